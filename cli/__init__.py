"""The ``gateway`` command: ``gateway dev`` and the operator's and developer's tools."""
