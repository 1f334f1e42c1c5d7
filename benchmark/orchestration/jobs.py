"""A job as the scheduler tracks it, and the bookkeeping of its attempts in the ledger.

The scheduler decides what happens to a job; this module holds what a job is (its planned spec, its ledger
record, its live state), what a backend gets for an attempt, and how an attempt is opened, closed or undone in
the record. No asyncio policy lives here.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from benchmark.orchestration.backend import JobSpec
from benchmark.orchestration.ledger import Attempt, JobRecord, Ledger, Status, now_iso
from benchmark.orchestration.outputs import METRICS
from benchmark.orchestration.plan import PlannedJob, Role

USAGE_EXIT = 2  # the job's command line is wrong: it will fail the same way again
DETERMINISTIC_EXIT = 3  # the job failed the same way it always will (non-finite loss)
NOT_RETRIED = {USAGE_EXIT: "usage error", DETERMINISTIC_EXIT: "deterministic failure"}
MAX_BACKOFF = 600.0


@dataclass
class GraphJob:
    planned: PlannedJob
    record: JobRecord
    order: int
    session_attempts: int = 0
    handle: str | None = None
    started: float = 0.0  # monotonic
    started_wall: float = 0.0
    future: asyncio.Future | None = None
    holds_permit: bool = False
    queued: bool = False  # in the ready queue
    active: bool = False  # a watcher owns it (submitting, running or recording its verdict)
    kill_reason: str | None = None  # set when the controller kills it (stall)
    recovering: bool = False  # the backend reports it preempted and being recovered (SkyPilot RECOVERING)

    @property
    def job_id(self) -> str:
        return self.planned.job_id

    @property
    def priority(self) -> tuple[int, int]:
        rank = {Role.BASELINE: 0, Role.EVAL: 1, Role.INTERIM: 1, Role.TRAIN: 2}[self.planned.role]
        return rank, self.order

    def heartbeat(self) -> float:
        """Wall time of the job's last sign of life: its log or metrics file, or its start."""
        beats = [self.started_wall]
        files = [self.planned.log_path] + ([self.planned.run_dir / METRICS] if self.planned.role == Role.TRAIN else [])
        for path in files:
            try:
                beats.append(path.stat().st_mtime)
            except OSError:
                pass
        return max(beats)


def job_spec(job: PlannedJob, attempt: int, env: dict[str, str] | None = None) -> JobSpec:
    """What a backend gets for one attempt of a planned job (also written as task YAMLs by --dry-run)."""
    return JobSpec(
        job_id=job.job_id,
        run_id=job.run_id,
        kind=job.kind,
        argv=job.argv,
        run_dir=job.run_dir,
        log_path=job.log_path,
        attempt=attempt,
        env=dict(env or {}),
        gpu=job.role != Role.BASELINE,  # a random policy needs no GPU: a CPU node, no GPU bill
    )


def record_for(ledger: Ledger, job: PlannedJob) -> JobRecord:
    if job.role == Role.BASELINE:
        return ledger.baselines[job.level]
    run = ledger.run(job.run_id)
    if run is None:
        raise KeyError(f"the ledger has no run {job.run_id!r}")
    if job.role == Role.INTERIM:
        return run.interim[interim_key(job)]
    return run.training if job.role == Role.TRAIN else run.evaluation


def interim_key(job: PlannedJob) -> str:
    """The percentage an interim evaluation belongs to ("25" for `<run>.eval25`): its key in `RunRecord.interim`."""
    return job.job_id.rsplit(".eval", 1)[1]


def last_line(path: Path, limit: int = 300) -> str:
    """The last meaningful line of a log (the exception or `error: ...` line), shortened to one line."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 8192))
            tail = f.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in tail.replace("\r", "\n").splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("====")]
    return " ".join(lines[-1].split())[:limit] if lines else ""


def open_attempt(rec: JobRecord, backend: str) -> None:
    """A launch begins: the record says running, with a new attempt in its history."""
    rec.attempts += 1
    rec.status, rec.error, rec.handle = Status.RUNNING, None, None
    rec.backend = backend
    rec.started_at, rec.ended_at, rec.duration_seconds = now_iso(), None, None
    rec.history.append(Attempt(attempt=rec.attempts, started_at=rec.started_at, backend=backend))


def close_attempt(rec: JobRecord, started: float, outcome: str, exit_code: int | None, detail: str) -> None:
    """The attempt ended (`started`: its monotonic start, 0 if unknown): when, how long, how, and why."""
    ended = now_iso()
    duration = round(time.monotonic() - started, 3) if started else None
    rec.ended_at, rec.duration_seconds = ended, duration
    if rec.history and rec.history[-1].ended_at is None:
        att = rec.history[-1]
        att.ended_at, att.duration_seconds, att.outcome = ended, duration, outcome
        att.exit_code, att.detail = exit_code, detail


def undo_attempt(rec: JobRecord) -> None:
    """A submit that launched nothing: the job is pending again, as if it had never been tried."""
    rec.attempts -= 1
    if rec.history and rec.history[-1].ended_at is None:
        rec.history.pop()
    rec.status, rec.handle, rec.backend = Status.PENDING, None, None
    rec.started_at = rec.history[-1].started_at if rec.history else None
    rec.ended_at = rec.history[-1].ended_at if rec.history else None


class ReadyQueue:
    """Jobs ready to launch, best first: baselines, then evals, then trains in plan order."""

    def __init__(self) -> None:
        self._heap: list[tuple[tuple[int, int], int, GraphJob]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, job: GraphJob) -> bool:
        """Queue it unless it is queued or owned by a watcher already; True if it was queued now."""
        if job.queued or job.active:
            return False
        job.queued = True
        heapq.heappush(self._heap, (job.priority, next(self._seq), job))
        return True

    def pop(self) -> GraphJob | None:
        """The best ready job still pending, claimed for a watcher (None if there is none)."""
        while self._heap:
            _, _, job = heapq.heappop(self._heap)
            job.queued = False
            if job.record.status == Status.PENDING:  # not skipped meanwhile
                job.active = True
                return job
        return None
