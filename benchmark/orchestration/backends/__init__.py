"""Job backends: local subprocesses (local.py), SkyPilot (sky.py), an in-process fake for tests (fake.py).

Each module imports its heavy client library lazily, so importing a backend is cheap."""

from __future__ import annotations


class BackendUnavailable(RuntimeError):
    """The backend cannot run jobs at all (no cloud enabled, no API server): retrying will not help.

    The message is one line meant for the user, so the scheduler can print it as is and stop.
    """


__all__ = ["BackendUnavailable"]
