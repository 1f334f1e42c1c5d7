"""The job graph the scheduler runs: the jobs, their dependencies, the ready queue, and every state change.

Each state change marks its run as touched; `changed()` writes the touched runs to the ledger. A job source (the
adaptive policy) may grow the graph when a job ends: `grow` asks it for jobs and makes the runnable ones ready.
No asyncio here but the retry timers' handles, which the graph keeps so that a job waiting for its retry is
not made ready twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from benchmark.orchestration.jobs import GraphJob, ReadyQueue, record_for
from benchmark.orchestration.ledger import LedgerStore, Status
from benchmark.orchestration.outputs import checkpoint_of, completed
from benchmark.orchestration.plan import Plan, PlannedJob, Role

Event = Callable[[str, str, str], None]  # (job_id, event, one-line message)


class JobSource(Protocol):
    """Grows the job graph while it runs (the adaptive policy): jobs to add now that `job` has ended.

    The source adds their records to the ledger before returning them."""

    def after(self, job: PlannedJob) -> list[PlannedJob]: ...

    # optional: `news() -> list[str]`, one line per decision made since it was last called (shown as events)


@dataclass
class Outcome:
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0
    interrupted: bool = False
    launches: int = 0
    fatal: str | None = None  # the backend became unavailable: its one-line message

    @property
    def complete(self) -> bool:
        return not self.interrupted and self.failed == 0 and self.pending == 0


class JobGraph:
    def __init__(
        self,
        plan: Plan,
        store: LedgerStore,
        on_event: Event,
        source: JobSource | None = None,
        wake: Callable[[], None] = lambda: None,
    ):
        self.plan = plan
        self.store = store
        self.on_event = on_event
        self.source = source
        self.wake = wake  # tells the scheduler's loop that something changed
        self.jobs: dict[str, GraphJob] = {}
        self.dependents: dict[str, list[GraphJob]] = {}
        self.ready = ReadyQueue()
        self.retry_timers: dict[str, asyncio.TimerHandle] = {}
        self.growing = False  # the source is asked for jobs only while the scheduler's loop runs
        self._touched: set[str] = set()  # runs whose records changed since the last ledger write
        self.add(plan.jobs)

    def add(self, planned: list[PlannedJob]) -> list[GraphJob]:
        added = []
        for p in planned:
            job = self.jobs[p.job_id] = GraphJob(p, record_for(self.store.ledger, p), len(self.jobs))
            if p.depends_on:
                self.dependents.setdefault(p.depends_on, []).append(job)
            added.append(job)
        return added

    def completed(self, p: PlannedJob):
        """The job's figures if an earlier attempt's files show it done for its budget (outputs.completed)."""
        return completed(p, p.timesteps or self.plan.timesteps_for(p.level), self.plan.episodes)

    def unfinished(self) -> bool:
        return any(j.record.status in (Status.PENDING, Status.RUNNING) for j in self.jobs.values())

    # ---- state changes (each one is written to the ledger) -----------------------------------------------

    def touch(self, job: GraphJob) -> None:
        self._touched.add(job.planned.run_id)

    def changed(self) -> None:
        """Persist: the ledger re-serialises the touched runs (all of them if none was named)."""
        self.store.changed(*self._touched)
        self._touched.clear()
        self.wake()

    def save_all(self) -> None:
        self._touched.clear()
        self.store.changed()

    def emit(self, job: GraphJob, event: str, message: str = "") -> None:
        self.on_event(job.job_id, event, message)

    def make_ready(self, job: GraphJob) -> None:
        if self.ready.push(job):
            self.wake()

    def skip(self, job: GraphJob, reason: str) -> None:
        self.touch(job)
        job.record.status = Status.SKIPPED
        job.record.error = reason
        self.emit(job, "skipped", reason)
        for dep in self.dependents.get(job.job_id, []):
            if dep.record.status not in (Status.SUCCESS, Status.SKIPPED):
                self.skip(dep, f"not run: {job.planned.role} was skipped ({reason})")

    def succeed(self, job: GraphJob, metrics: Any, note: str = "") -> None:
        self.touch(job)
        job.record.status = Status.SUCCESS
        job.record.error = None
        job.record.metrics = metrics  # type: ignore[attr-defined]
        self.emit(job, "success", note)
        for dep in self.dependents.get(job.job_id, []):
            if dep.active:  # an interim evaluation started while its training ran: it is already under way
                continue
            if dep.record.status != Status.SUCCESS and dep.job_id not in self.retry_timers:
                self.touch(dep)
                dep.record.status = Status.PENDING
                dep.record.error = None
                self.make_ready(dep)
        self.grow(job)

    def fail(self, job: GraphJob, reason: str) -> None:
        """A failure that will not be retried: its dependents are skipped, the source hears of it."""
        job.record.status, job.record.error = Status.FAILED, reason
        self.emit(job, "failed", reason)
        for dep in self.dependents.get(job.job_id, []):
            if dep.record.status != Status.SUCCESS and not dep.active:
                self.touch(dep)
                dep.record.status = Status.SKIPPED
                dep.record.error = f"not run: its {job.planned.role} job failed"
                self.emit(dep, "skipped", dep.record.error)
        self.grow(job)

    def grow(self, ended: GraphJob) -> None:
        """Ask the source for more jobs now that `ended` has ended, and make the runnable ones ready."""
        if self.source is None or not self.growing:  # not during the resume bookkeeping, nor once stopping
            return
        added = self.add(self.source.after(ended.planned))
        for line in getattr(self.source, "news", lambda: [])():  # what the policy decided just now
            self.on_event("controller", "decision", line)
        for job in added:
            self.touch(job)
            p = job.planned
            done = self.completed(p)
            if done is not None:  # an earlier controller ran it before its record reached the ledger
                self.succeed(job, done, "found complete outputs of an earlier attempt")
            elif p.depends_on is None or self.jobs[p.depends_on].record.status == Status.SUCCESS:
                self.make_ready(job)

    def early_interims(self) -> list[GraphJob]:
        """Interim evaluations that may start before their training ends: it still runs and has written the
        snapshot they evaluate (run folders on this machine only)."""
        ready = []
        for job in self.jobs.values():
            p = job.planned
            if p.role != Role.INTERIM or job.record.status != Status.PENDING or job.queued or job.active:
                continue
            parent = self.jobs.get(p.depends_on or "")
            if parent is not None and parent.record.status == Status.RUNNING and job.job_id not in self.retry_timers:
                if checkpoint_of(p).exists():
                    ready.append(job)
        return ready

    def outcome(self, interrupted: bool, launches: int, fatal: str | None) -> Outcome:
        out = Outcome(interrupted=interrupted, launches=launches, fatal=fatal)
        for job in self.jobs.values():
            status = job.record.status
            if status == Status.SUCCESS:
                out.succeeded += 1
            elif status == Status.FAILED:
                out.failed += 1
            elif status == Status.SKIPPED:
                out.skipped += 1
            else:
                out.pending += 1
        return out
