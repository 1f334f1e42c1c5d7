"""Job backends: local subprocesses (local.py), an in-process fake for tests (fake.py)."""
