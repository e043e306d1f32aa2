"""The local cloud: moto's server and its fixes, the journal, streams, global-table
replication, the user pool."""
