"""The contract every job backend implements (local subprocesses, SkyPilot, test fakes).

A backend only starts, watches and stops jobs; all policy (parallelism cap, retries, ordering, resume)
lives in the scheduler above it, as in submitit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol


class JobKind(StrEnum):
    TRAIN = "train"
    EVAL = "eval"


class BackendState(StrEnum):
    """What a backend reports about one submitted job."""

    QUEUED = "queued"  # accepted, not yet running (SkyPilot PENDING/STARTING, RECOVERING)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"  # the backend no longer knows the handle


TERMINAL_STATES = frozenset({BackendState.SUCCEEDED, BackendState.FAILED, BackendState.CANCELLED, BackendState.LOST})


@dataclass(frozen=True)
class JobSpec:
    """Everything a backend needs to run one job: a command line and env vars, never pickles.

    `argv` is the project's own CLI (`archbench train ...` / `archbench evaluate ...`) without the program
    name, so a backend may prefix it with whatever launches the package on its machine.
    `env` holds non-secret variables only; secrets (the W&B key) are the backend's business.
    """

    job_id: str  # stable: "<run_id>.train" or "<run_id>.eval"
    run_id: str  # "<experiment>.<architecture>.<level>.s<seed>"
    kind: JobKind
    argv: tuple[str, ...]
    run_dir: Path  # the run folder the job writes (checkpoints, metrics, eval json)
    log_path: Path  # where the job's stdout/stderr end up on this machine
    attempt: int = 1
    env: dict[str, str] = field(default_factory=dict)
    gpu: bool = True  # False: the job needs no accelerator (the random baseline's evaluation)


@dataclass(frozen=True)
class JobStatus:
    state: BackendState
    exit_code: int | None = None
    detail: str = ""  # a one-line reason for failures ("FAILED_NO_RESOURCE", "exit 1: ...")
    recovering: bool = False  # SkyPilot RECOVERING: preempted, being restarted by the backend itself


class Backend(Protocol):
    """Start, watch and stop jobs. Handles are strings the ledger can persist (pid, SkyPilot job id)."""

    name: str

    async def submit(self, spec: JobSpec) -> str:
        """Launch the job; return a handle that stays valid across controller restarts where possible."""
        ...

    async def poll(self, handles: list[str]) -> dict[str, JobStatus]:
        """One batched status query for all handles (never one request or log stream per job)."""
        ...

    async def cancel(self, handles: list[str]) -> None:
        """Stop these jobs; must not raise for handles that already ended."""
        ...

    async def fetch_logs(self, handle: str, dest: Path) -> Path | None:
        """Copy the job's log to dest when the backend keeps it elsewhere; return the path written."""
        ...

    async def close(self) -> None:
        """Release backend resources (called once, also after Ctrl-C)."""
        ...
