"""The write side: commands, events, rules and the write-table store."""
