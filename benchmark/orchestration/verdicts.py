"""What a job's end means: collect a success, retry a failure (with backoff), give up, or mark it interrupted.

The scheduler hands every ended job here with the backend's status; remote jobs first have their log fetched
and the result it carries written into the run folder. Exit codes 3 (deterministic) and 2 (usage) are not
retried; a job killed for a stall is retried like a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from benchmark.orchestration.backend import Backend, BackendState, JobStatus
from benchmark.orchestration.graph import Event, JobGraph
from benchmark.orchestration.jobs import MAX_BACKOFF, NOT_RETRIED, GraphJob, close_attempt, last_line
from benchmark.orchestration.ledger import Status
from benchmark.orchestration.outputs import OutputError, collect, materialize_result


class Verdicts:
    """Judges ended jobs for a scheduler: `finish(job, status)` records the outcome and decides what comes next."""

    def __init__(
        self,
        graph: JobGraph,
        backend: Backend,
        retries: int,
        backoff_seconds: float,
        local: Callable[[str | None], bool],
        stopping: Callable[[], bool],
        on_event: Event,
    ):
        self.graph, self.backend, self.local, self.stopping, self.on_event = graph, backend, local, stopping, on_event
        self.retries, self.backoff_seconds = retries, backoff_seconds

    def close_attempt(self, job: GraphJob, outcome: str, exit_code: int | None, detail: str) -> None:
        self.graph.touch(job)
        close_attempt(job.record, job.started, outcome, exit_code, detail)

    async def fetch_remote(self, job: GraphJob, status: JobStatus) -> JobStatus:
        """Remote jobs: download the log; for a success, write the result the log carries into the run folder.

        Returns the status to judge the job by: a success whose log holds no result becomes a failure."""
        handle = job.handle or job.record.handle
        if not handle or self.local(handle):
            return status
        p = job.planned
        try:
            await self.backend.fetch_logs(handle, p.log_path)
        except Exception as exc:  # noqa: BLE001 - the log may still be there from an earlier try
            self.on_event(job.job_id, "warning", f"could not download its log: {' '.join(str(exc).split())}")
        if status.state != BackendState.SUCCEEDED:
            return status
        try:
            materialize_result(p, p.log_path)
        except OutputError as exc:
            return JobStatus(BackendState.FAILED, status.exit_code, str(exc))
        return status

    async def finish(self, job: GraphJob, status: JobStatus) -> None:
        self.graph.touch(job)
        rec, p = job.record, job.planned
        if status.state == BackendState.CANCELLED and job.kill_reason is None:  # we stopped it: Ctrl-C
            self.close_attempt(job, "interrupted", status.exit_code, "stopped by the controller")
            rec.status, rec.error = Status.PENDING, "interrupted; the same command resumes it"
            job.session_attempts -= 1
            self.graph.emit(job, "interrupted", rec.error)
            self.graph.changed()
            return
        if job.kill_reason is None and not self.local(job.handle or job.record.handle):
            status = await self.fetch_remote(job, status)
        if status.state == BackendState.SUCCEEDED or (status.state == BackendState.LOST and self.graph.completed(p)):
            try:
                metrics = collect(p)
            except OutputError as exc:
                status = JobStatus(BackendState.FAILED, status.exit_code, str(exc))
            else:
                self.close_attempt(job, "success", status.exit_code, "")
                self.graph.succeed(job, metrics, f"in {rec.duration_seconds:.1f} s")
                self.graph.changed()
                return
        detail = job.kill_reason or status.detail or str(status.state)
        last = last_line(p.log_path)
        if last and job.kill_reason is None:
            detail = f"{detail}: {last}"
        code = status.exit_code
        outcome = "stalled" if job.kill_reason else ("deterministic" if code in NOT_RETRIED else "failed")
        self.close_attempt(job, outcome, code, detail)
        if code in NOT_RETRIED:
            self.graph.fail(job, f"{detail} ({NOT_RETRIED[code]}, exit {code}: not retried)")
        elif job.session_attempts > self.retries or self.stopping():
            tries = job.session_attempts
            self.graph.fail(job, f"{detail} (gave up after {tries} attempt{'s' * (tries > 1)})")
        else:
            delay = min(MAX_BACKOFF, self.backoff_seconds * 2 ** (job.session_attempts - 1))
            rec.status = Status.PENDING
            rec.error = f"{detail}; retry {job.session_attempts}/{self.retries} in {delay:.0f} s"
            self.graph.emit(job, "retry", rec.error)
            self.graph.retry_timers[job.job_id] = asyncio.get_running_loop().call_later(delay, self.retry_due, job)
        job.kill_reason = None
        self.graph.changed()

    def retry_due(self, job: GraphJob) -> None:
        self.graph.retry_timers.pop(job.job_id, None)
        if job.record.status == Status.PENDING and not self.stopping():
            self.graph.make_ready(job)
