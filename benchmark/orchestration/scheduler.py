"""Run a plan's jobs on a backend: the cap, the order, retries, stalls, resume and Ctrl-C. All policy lives here.

- Cap: an asyncio.Semaphore of `max_parallel` permits, each held for a job's whole life (train and eval alike);
  the asyncio-throttle Throttler only spaces out the submit calls (a throttler alone does not cap concurrency).
- Order: ready jobs wait in a priority queue: baselines, then evals (a run's evaluation starts at the first free
  slot after its training succeeds), then trains in the plan's breadth-first, longest-first order.
- Status: one batched `backend.poll` per tick for every running job.
- Faults: a failed attempt is retried up to `retries` times with exponential backoff; exit code 3 (deterministic,
  e.g. a non-finite loss) and 2 (usage error) are not retried and the reason is recorded; a job whose heartbeat
  (log file, metrics.jsonl) is older than `stall_timeout` is killed and retried.
- Resume: the ledger says what is done. Successful jobs are never run again; jobs recorded as running are
  re-attached when the backend still runs them, else their files are checked, else they start again (training
  continues from its checkpoint: the run folder is the same).
- Stop: `request_stop()` (Ctrl-C/SIGTERM) stops launching, cancels running jobs and marks them pending, so the
  ledger stays valid and the same command resumes.
- Backend unavailable: a submit (or the first poll) raising BackendUnavailable (no cloud enabled, no API server)
  stops the whole run at once: no retry, the job goes back to pending with its attempt undone, jobs already
  running are left running and recorded (the next controller re-attaches them), and `Outcome.fatal` holds the
  backend's one-line message.
- Remote jobs (a backend without `local_files`): a job's log is downloaded when it ends, and a successful job's
  result is taken from the log's ARCHBENCH_RESULT line into the local run folder before it is collected.
  A status with `recovering` (SkyPilot RECOVERING: preempted, being restarted by SkyPilot) is not a failure;
  the heartbeat stall check only applies to backends with local files.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from asyncio_throttle import Throttler

from benchmark.orchestration.backend import TERMINAL_STATES, Backend, BackendState, JobStatus
from benchmark.orchestration.backends import BackendUnavailable
from benchmark.orchestration.jobs import (  # noqa: F401 - record_for, job_spec: the package's public names
    MAX_BACKOFF,
    NOT_RETRIED,
    GraphJob,
    ReadyQueue,
    close_attempt,
    job_spec,
    last_line,
    open_attempt,
    record_for,
    undo_attempt,
)
from benchmark.orchestration.ledger import LedgerStore, Status
from benchmark.orchestration.outputs import (
    OutputError,
    checkpoint_of,
    collect,
    completed,
    materialize_result,
)
from benchmark.orchestration.plan import Plan, PlannedJob, Role

Event = Callable[[str, str, str], None]  # (job_id, event, one-line message)


class JobSource(Protocol):
    """Grows the job graph while it runs (the adaptive policy): jobs to add now that `job` has ended.

    The source adds their records to the ledger before returning them."""

    def after(self, job: PlannedJob) -> list[PlannedJob]: ...

    # optional: `news() -> list[str]`, one line per decision made since it was last called (shown as events)


@dataclass
class SchedulerConfig:
    max_parallel: int = 4
    retries: int = 2  # extra attempts after the first failure, per controller session
    backoff_seconds: float = 10.0  # retry n waits backoff * 2**(n-1), at most MAX_BACKOFF
    stall_timeout: float | None = 900.0  # seconds without heartbeat before a job is killed; None = never
    submit_rate: float | None = None  # submits per second (None: the backend's `submit_rate`, else 2)
    poll_interval: float | None = None  # None: the backend's `poll_interval`, else 1 s
    skip_training: bool = False
    env: dict[str, str] = field(default_factory=dict)  # extra environment for every job


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


# a watcher's verdict when the controller leaves a job running (backend unavailable): the record stays as it is
_DETACHED = JobStatus(BackendState.LOST, None, "left running: the controller stopped watching it")


class Scheduler:
    def __init__(
        self,
        plan: Plan,
        store: LedgerStore,
        backend: Backend,
        config: SchedulerConfig,
        on_event: Event | None = None,
        source: JobSource | None = None,
    ):
        self.plan = plan
        self.source = source
        self.store = store
        self.backend = backend
        self.config = config
        self.on_event = on_event or (lambda job_id, event, message: None)
        self.jobs: dict[str, GraphJob] = {}
        self.dependents: dict[str, list[GraphJob]] = {}
        self._add_jobs(plan.jobs)
        cap = getattr(backend, "capacity", None)
        self.cap = min(config.max_parallel, cap) if cap else config.max_parallel
        self.poll_interval = config.poll_interval or getattr(backend, "poll_interval", 1.0)
        self.local_files = bool(getattr(backend, "local_files", False))
        self.stopping = False
        self._looping = False
        self.force = False
        self.fatal: str | None = None
        self.launches = 0
        self._ready = ReadyQueue()
        self._running: dict[str, GraphJob] = {}  # handle -> job
        self._tasks: set[asyncio.Task] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._touched: set[str] = set()  # runs whose records changed since the last ledger write

    def _add_jobs(self, planned: list[PlannedJob]) -> list[GraphJob]:
        added = []
        for p in planned:
            job = self.jobs[p.job_id] = GraphJob(p, record_for(self.store.ledger, p), len(self.jobs))
            if p.depends_on:
                self.dependents.setdefault(p.depends_on, []).append(job)
            added.append(job)
        return added

    def _completed(self, p: PlannedJob):
        """The job's figures if an earlier attempt's files show it done for its budget (outputs.completed)."""
        return completed(p, p.timesteps or self.plan.timesteps_for(p.level), self.plan.episodes)

    def _grow(self, ended: GraphJob) -> None:
        """Ask the source for more jobs now that `ended` has ended, and make the runnable ones ready."""
        if self.source is None or self.stopping:
            return
        added = self._add_jobs(self.source.after(ended.planned))
        for line in getattr(self.source, "news", lambda: [])():  # what the policy decided just now
            self.on_event("controller", "decision", line)
        for job in added:
            self._touch(job)
            p = job.planned
            done = self._completed(p)
            if done is not None:  # an earlier controller ran it before its record reached the ledger
                self._succeed(job, done, "found complete outputs of an earlier attempt")
            elif p.depends_on is None or self.jobs[p.depends_on].record.status == Status.SUCCESS:
                self._make_ready(job)

    # ---- state changes (each one is written to the ledger) -----------------------------------------------

    def _touch(self, job: GraphJob) -> None:
        self._touched.add(job.planned.run_id)

    def _changed(self) -> None:
        """Persist: the ledger re-serialises the touched runs (all of them if none was named)."""
        self.store.changed(*self._touched)
        self._touched.clear()
        self._wake()

    def _wake(self) -> None:
        if hasattr(self, "_event"):
            self._event.set()

    def _emit(self, job: GraphJob, event: str, message: str = "") -> None:
        self.on_event(job.job_id, event, message)

    def _make_ready(self, job: GraphJob) -> None:
        if self._ready.push(job):
            self._wake()

    def _skip(self, job: GraphJob, reason: str) -> None:
        self._touch(job)
        job.record.status = Status.SKIPPED
        job.record.error = reason
        self._emit(job, "skipped", reason)
        for dep in self.dependents.get(job.job_id, []):
            if dep.record.status not in (Status.SUCCESS, Status.SKIPPED):
                self._skip(dep, f"not run: {job.planned.role} was skipped ({reason})")

    def _succeed(self, job: GraphJob, metrics: Any, note: str = "") -> None:
        self._touch(job)
        job.record.status = Status.SUCCESS
        job.record.error = None
        job.record.metrics = metrics  # type: ignore[attr-defined]
        self._emit(job, "success", note)
        for dep in self.dependents.get(job.job_id, []):
            if dep.record.status != Status.SUCCESS and dep.job_id not in self._timers:
                self._touch(dep)
                dep.record.status = Status.PENDING
                dep.record.error = None
                self._make_ready(dep)
        if self._looping:  # not during _prepare's bookkeeping (it iterates over the jobs)
            self._grow(job)

    def _fail_dependents(self, job: GraphJob) -> None:
        for dep in self.dependents.get(job.job_id, []):
            if dep.record.status != Status.SUCCESS:
                self._touch(dep)
                dep.record.status = Status.SKIPPED
                dep.record.error = f"not run: its {job.planned.role} job failed"
                self._emit(dep, "skipped", dep.record.error)

    # ---- before the loop: what the ledger and the files say -----------------------------------------------

    async def _prepare(self) -> list[GraphJob]:
        """Decide each job's starting state; returns jobs to re-attach (still running on the backend)."""
        reattach: list[GraphJob] = []
        running_here = [
            j
            for j in self.jobs.values()
            if j.record.status == Status.RUNNING and j.record.handle and j.record.backend == self.backend.name
        ]
        statuses: dict[str, JobStatus] = {}
        if running_here:
            try:
                statuses = await self.backend.poll([j.record.handle for j in running_here])  # type: ignore[misc]
            except BackendUnavailable as exc:  # nothing can run: leave every record as the ledger has it
                self._set_fatal(str(exc))
                return []
            except Exception as exc:  # noqa: BLE001 - an unreachable backend means: start them again
                self.on_event("controller", "warning", f"could not poll earlier jobs ({exc}); starting them again")
        for job in self.jobs.values():
            rec = job.record
            if rec.status == Status.SUCCESS:
                continue
            status = statuses.get(rec.handle or "") if rec.status == Status.RUNNING else None
            if status is not None and status.state not in TERMINAL_STATES:
                reattach.append(job)
                continue
            if status is not None and status.state == BackendState.SUCCEEDED:
                self._close_attempt(job, "success", status.exit_code, "ended while no controller watched it")
                await self._fetch_remote(job, status)
                try:
                    self._succeed(job, collect(job.planned), "ended while no controller watched it")
                    continue
                except OutputError:
                    pass
            elif rec.status == Status.RUNNING:
                detail = "the controller stopped while this job ran"
                if status is not None:  # it ended unwatched: say how, with its log when it is remote
                    detail = status.detail or detail
                    await self._fetch_remote(job, status)
                self._close_attempt(job, "lost", status.exit_code if status else None, detail)
            done = self._completed(job.planned)
            if done is not None:
                self._succeed(job, done, "found complete outputs of an earlier attempt")
                continue
            rec.status, rec.error = Status.PENDING, None
        # training-dependent evals, and --skip-training
        for job in self.jobs.values():
            p, rec = job.planned, job.record
            if rec.status == Status.SUCCESS or job in reattach:
                continue
            if p.role == Role.TRAIN and self.config.skip_training:
                ckpt = checkpoint_of(p)
                if ckpt.exists():
                    rec.status, rec.error = Status.SKIPPED, "--skip-training: not trained; evaluating its checkpoint"
                    try:
                        rec.metrics = collect(p)  # type: ignore[attr-defined]
                    except OutputError:
                        pass
                else:
                    self._skip(job, f"--skip-training and no checkpoint at {ckpt}")
                continue
        for job in self.jobs.values():
            p, rec = job.planned, job.record
            if rec.status != Status.PENDING or job in reattach:
                continue
            if p.depends_on is None:
                self._make_ready(job)
                continue
            parent = self.jobs[p.depends_on]
            parent_ok = parent.record.status == Status.SUCCESS or (
                self.config.skip_training and checkpoint_of(p).exists()
            )
            if parent_ok:
                self._make_ready(job)
        self._touched.clear()
        self.store.changed()  # everything
        return reattach

    # ---- the loop ---------------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._sem = asyncio.Semaphore(self.cap)
        rate = self.config.submit_rate or getattr(self.backend, "submit_rate", 2.0)
        limit = max(1, round(rate))
        self._throttler = Throttler(rate_limit=limit, period=limit / rate)
        reattach = await self._prepare()
        if self.fatal is not None:
            self.store.save()
            return self._outcome()
        self._looping = True
        for job in reattach:
            job.active = True
            job.holds_permit = not self._sem.locked()
            if job.holds_permit:
                await self._sem.acquire()
            self._spawn(self._watch(job, reattached=True))
        poller = loop.create_task(self._poll_loop())
        self._dispatcher = loop.create_task(self._dispatch())
        try:
            try:
                await self._dispatcher
            except asyncio.CancelledError:
                if not self.stopping:
                    raise
            while self._tasks and not self.stopping:
                await self._wait_event()
        finally:
            if self.stopping:
                await self._stop_running()
            poller.cancel()
            for timer in self._timers.values():
                timer.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self.store.save()
        return self._outcome()

    def request_stop(self, force: bool = False) -> None:
        """Stop launching, then cancel running jobs (they stay resumable). Safe to call from a signal handler."""
        self.stopping = True
        self.force = self.force or force
        if self.force and hasattr(self.backend, "terminate_grace"):
            self.backend.terminate_grace = 0.5  # type: ignore[attr-defined]
        dispatcher = getattr(self, "_dispatcher", None)
        if dispatcher is not None and not dispatcher.done():
            dispatcher.cancel()  # it may be waiting for a permit
        self._wake()

    async def _wait_event(self) -> None:
        self._event.clear()
        await self._event.wait()

    def _unfinished(self) -> bool:
        return any(j.record.status in (Status.PENDING, Status.RUNNING) for j in self.jobs.values())

    def _stuck(self) -> bool:
        """Nothing ready, running or waiting to retry, yet jobs pending: their dependencies can never run."""
        return not self._ready and not self._tasks and not self._timers

    async def _dispatch(self) -> None:
        while not self.stopping:
            if not self._ready:
                if not self._unfinished() or self._stuck():
                    return
                await self._wait_event()
                continue
            await self._sem.acquire()
            job = None if self.stopping else self._ready.pop()
            if job is None:
                self._sem.release()
                continue
            job.holds_permit = True
            self._spawn(self._watch(job, reattached=False))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.on_event("controller", "error", f"internal error: {task.exception()!r}")
        self._wake()

    async def _watch(self, job: GraphJob, reattached: bool) -> None:
        """Jobs' lives on one permit: submit (throttled), wait for the poller's verdict, record it; then, while the
        permit is ours and a job is ready, hand the permit straight to it (no round trip through the dispatcher)."""
        current: GraphJob | None = job
        while current is not None:
            job, current = current, None
            try:
                await self._run_one(job, reattached)
            finally:
                job.active = False
                if job.handle is not None:
                    self._running.pop(job.handle, None)
                if job.holds_permit:
                    job.holds_permit = False
                    current = None if self.stopping else self._ready.pop()
                    if current is None:
                        self._sem.release()
                    else:
                        current.holds_permit = True
            reattached = False

    async def _run_one(self, job: GraphJob, reattached: bool) -> None:
        if reattached:
            job.handle = job.record.handle
            job.started, job.started_wall = time.monotonic(), time.time()
            self._emit(job, "reattached", f"handle {job.handle}")
        elif not await self._submit(job):
            return
        elif self.stopping:  # the stop came while this launch was in flight (remote launches take seconds)
            if self.fatal is not None:
                return  # recorded as running with its handle: the next controller re-attaches it
            try:
                await self.backend.cancel([job.handle or ""])
            except Exception as exc:  # noqa: BLE001
                self.on_event("controller", "warning", f"cancel failed: {exc}")
            await self._finish(job, JobStatus(BackendState.CANCELLED, None, "stopped by the controller"))
            return
        job.future = asyncio.get_running_loop().create_future()
        assert job.handle is not None
        self._running[job.handle] = job
        status = await job.future
        self._running.pop(job.handle, None)
        if status is _DETACHED:
            return
        await self._finish(job, status)

    async def _submit(self, job: GraphJob) -> bool:
        rec = job.record
        async with self._throttler:
            if self.stopping:
                return False
            hint = min(self.cap, len(self._running) + len(self._ready) + 1)
            if hasattr(self.backend, "concurrency_hint"):
                self.backend.concurrency_hint = hint  # type: ignore[attr-defined]
            self._touch(job)
            open_attempt(rec, self.backend.name)
            job.session_attempts += 1
            spec = job_spec(job.planned, rec.attempts, self.config.env)
            job.started, job.started_wall = time.monotonic(), time.time()
            self.launches += 1
            try:
                handle = await self.backend.submit(spec)
            except BackendUnavailable as exc:  # nothing will run: undo this attempt and stop the whole run
                self._undo_attempt(job)
                self._set_fatal(str(exc))
                return False
            except Exception as exc:  # noqa: BLE001 - a launch failure is a failed attempt like any other
                detail = f"submit failed: {type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
                await self._finish(job, JobStatus(BackendState.FAILED, None, detail))
                return False
        self._touch(job)
        job.handle = rec.handle = rec.history[-1].handle = handle
        self._emit(job, "start", f"attempt {rec.attempts}")
        self._changed()
        return True

    def _undo_attempt(self, job: GraphJob) -> None:
        """A submit that launched nothing: the job is pending again, as if it had never been tried."""
        self._touch(job)
        undo_attempt(job.record)
        job.session_attempts -= 1
        self.launches -= 1
        self._changed()

    def _set_fatal(self, message: str) -> None:
        if self.fatal is None:
            self.fatal = message
            self.on_event("controller", "error", message)
        self.request_stop()

    # ---- verdicts ---------------------------------------------------------------------------------------

    def _close_attempt(self, job: GraphJob, outcome: str, exit_code: int | None, detail: str) -> None:
        self._touch(job)
        close_attempt(job.record, job.started, outcome, exit_code, detail)

    async def _fetch_remote(self, job: GraphJob, status: JobStatus) -> JobStatus:
        """Remote jobs: download the log; for a success, write the result the log carries into the run folder.

        Returns the status to judge the job by: a success whose log holds no result becomes a failure."""
        handle = job.handle or job.record.handle
        if self.local_files or not handle:
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

    async def _finish(self, job: GraphJob, status: JobStatus) -> None:
        self._touch(job)
        rec, p = job.record, job.planned
        if status.state == BackendState.CANCELLED and job.kill_reason is None:  # we stopped it: Ctrl-C
            self._close_attempt(job, "interrupted", status.exit_code, "stopped by the controller")
            rec.status, rec.error = Status.PENDING, "interrupted; the same command resumes it"
            job.session_attempts -= 1
            self._emit(job, "interrupted", rec.error)
            self._changed()
            return
        if not self.local_files and job.kill_reason is None:
            status = await self._fetch_remote(job, status)
        if status.state == BackendState.SUCCEEDED or (status.state == BackendState.LOST and self._completed(p)):
            try:
                metrics = collect(p)
            except OutputError as exc:
                status = JobStatus(BackendState.FAILED, status.exit_code, str(exc))
            else:
                self._close_attempt(job, "success", status.exit_code, "")
                self._succeed(job, metrics, f"in {rec.duration_seconds:.1f} s")
                self._changed()
                return
        detail = job.kill_reason or status.detail or str(status.state)
        last = last_line(p.log_path)
        if last and job.kill_reason is None:
            detail = f"{detail}: {last}"
        code = status.exit_code
        outcome = "stalled" if job.kill_reason else ("deterministic" if code in NOT_RETRIED else "failed")
        self._close_attempt(job, outcome, code, detail)
        if code in NOT_RETRIED:
            rec.status, rec.error = Status.FAILED, f"{detail} ({NOT_RETRIED[code]}, exit {code}: not retried)"
            self._emit(job, "failed", rec.error)
            self._fail_dependents(job)
            self._grow(job)
        elif job.session_attempts > self.config.retries or self.stopping:
            tries = job.session_attempts
            rec.status, rec.error = Status.FAILED, f"{detail} (gave up after {tries} attempt{'s' * (tries > 1)})"
            self._emit(job, "failed", rec.error)
            self._fail_dependents(job)
            self._grow(job)
        else:
            delay = min(MAX_BACKOFF, self.config.backoff_seconds * 2 ** (job.session_attempts - 1))
            rec.status = Status.PENDING
            rec.error = f"{detail}; retry {job.session_attempts}/{self.config.retries} in {delay:.0f} s"
            self._emit(job, "retry", rec.error)
            self._timers[job.job_id] = asyncio.get_running_loop().call_later(delay, self._retry_due, job)
        job.kill_reason = None
        self._changed()

    def _retry_due(self, job: GraphJob) -> None:
        self._timers.pop(job.job_id, None)
        if job.record.status == Status.PENDING and not self.stopping:
            self._make_ready(job)

    # ---- watching running jobs --------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        last_stall_check = time.monotonic()
        stall_every = min(5.0, (self.config.stall_timeout or 60.0) / 4)
        next_change_in = getattr(self.backend, "next_change_in", None)  # optional: a backend that knows when
        while True:
            delay = self.poll_interval
            if next_change_in is not None and (hint := next_change_in()) is not None:
                delay = min(delay, hint)
            await asyncio.sleep(delay)
            waiting = {h: j for h, j in self._running.items() if j.future is not None and not j.future.done()}
            if not waiting:
                continue
            try:
                statuses = await self.backend.poll(list(waiting))
            except Exception as exc:  # noqa: BLE001 - a flaky status query is retried next tick
                self.on_event("controller", "warning", f"poll failed: {exc}")
                continue
            for handle, status in statuses.items():
                job = waiting.get(handle)
                if job is None:
                    continue
                if status.state in TERMINAL_STATES and not job.future.done():
                    job.future.set_result(status)
                elif status.recovering != job.recovering:  # preempted / back: SkyPilot's business, not a failure
                    job.recovering = status.recovering
                    self._emit(job, "recovering" if status.recovering else "recovered", status.detail)
            now = time.monotonic()
            if self.config.stall_timeout and self.local_files and now - last_stall_check >= stall_every:
                last_stall_check = now
                await self._check_stalls(waiting)

    async def _check_stalls(self, waiting: dict[str, GraphJob]) -> None:
        timeout = self.config.stall_timeout
        assert timeout is not None
        now = time.time()
        stalled = [(h, j) for h, j in waiting.items() if not j.future.done() and now - j.heartbeat() > timeout]
        if not stalled:
            return
        for _, job in stalled:
            job.kill_reason = f"stalled: no progress (log, metrics) for {now - job.heartbeat():.0f} s; killed"
            self._emit(job, "stalled", job.kill_reason)
        await self.backend.cancel([h for h, _ in stalled])
        for _, job in stalled:
            if not job.future.done():
                job.future.set_result(JobStatus(BackendState.CANCELLED, None, "killed: stalled"))

    async def _stop_running(self) -> None:
        """Ctrl-C: cancel every running job; each one's watcher marks it pending (resumable)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        handles = [h for h, j in self._running.items() if j.future is not None and not j.future.done()]
        if handles and self.fatal is not None:  # cancelling needs the backend too: leave them, recorded
            for handle in handles:
                job = self._running[handle]
                self._emit(job, "detached", f"left running as {handle}; the same command re-attaches it")
                job.future.set_result(_DETACHED)  # type: ignore[union-attr]
            return
        if handles:
            try:
                await self.backend.cancel(handles)
            except Exception as exc:  # noqa: BLE001
                self.on_event("controller", "warning", f"cancel failed: {exc}")
            for handle in handles:
                job = self._running.get(handle)
                if job is not None and job.future is not None and not job.future.done():
                    job.future.set_result(JobStatus(BackendState.CANCELLED, None, "stopped by the controller"))

    def _outcome(self) -> Outcome:
        out = Outcome(interrupted=self.stopping and self.fatal is None, launches=self.launches, fatal=self.fatal)
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
