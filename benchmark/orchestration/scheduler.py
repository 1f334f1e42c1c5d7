"""Run a plan's jobs on a backend: the cap, the order, stalls, resume and Ctrl-C (what an ended job means: verdicts.py).

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
from dataclasses import dataclass, field

from asyncio_throttle import Throttler

from benchmark.orchestration.backend import TERMINAL_STATES, Backend, BackendState, JobStatus
from benchmark.orchestration.backends import BackendUnavailable
from benchmark.orchestration.graph import Event, JobGraph, JobSource, Outcome
from benchmark.orchestration.jobs import (
    GraphJob,
    job_spec,
    open_attempt,
    undo_attempt,
)
from benchmark.orchestration.ledger import LedgerStore
from benchmark.orchestration.plan import Plan
from benchmark.orchestration.reconcile import Unavailable, reconcile
from benchmark.orchestration.verdicts import Verdicts


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


# a watcher's verdict when the controller leaves a job running (backend unavailable): the record stays as it is
_DETACHED = JobStatus(BackendState.LOST, None, "left running: the controller stopped watching it")


class Scheduler:
    """The loop over a `JobGraph`: permits, submits, polls, verdicts, retries, stalls and stopping."""

    def __init__(
        self,
        plan: Plan,
        store: LedgerStore,
        backend: Backend,
        config: SchedulerConfig,
        on_event: Event | None = None,
        source: JobSource | None = None,
    ):
        self.store = store
        self.backend = backend
        self.config = config
        self.on_event = on_event or (lambda job_id, event, message: None)
        self.graph = JobGraph(plan, store, self.on_event, source, wake=self._wake)
        cap = getattr(backend, "capacity", None)
        self.cap = min(config.max_parallel, cap) if cap else config.max_parallel
        self.poll_interval = config.poll_interval or getattr(backend, "poll_interval", 1.0)
        self.local_files = bool(getattr(backend, "local_files", False))
        self.stopping = False
        self.force = False
        self.fatal: str | None = None
        self.launches = 0
        self._running: dict[str, GraphJob] = {}  # handle -> job
        self.verdicts = Verdicts(
            self.graph,
            backend,
            config.retries,
            config.backoff_seconds,
            self._local,
            lambda: self.stopping,
            self.on_event,
        )
        self._tasks: set[asyncio.Task] = set()

    def _wake(self) -> None:
        if hasattr(self, "_event"):
            self._event.set()

    def _local(self, handle: str | None) -> bool:
        """Whether the job's log and run folder are on this machine (a split backend says per job)."""
        per_job = getattr(self.backend, "has_local_files", None)
        return per_job(handle or "") if per_job is not None else self.local_files

    # ---- the loop ---------------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._sem = asyncio.Semaphore(self.cap)
        rate = self.config.submit_rate or getattr(self.backend, "submit_rate", 2.0)
        limit = max(1, round(rate))
        self._throttler = Throttler(rate_limit=limit, period=limit / rate)
        try:
            reattach = await reconcile(self.graph, self.backend, self.config.skip_training, self.verdicts.fetch_remote)
        except Unavailable as exc:  # nothing can run: every record stays as the ledger has it
            self._set_fatal(str(exc))
            self.store.save()
            return self._outcome()
        self.graph.growing = True
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
            for timer in self.graph.retry_timers.values():
                timer.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self.store.save()
        return self._outcome()

    def request_stop(self, force: bool = False) -> None:
        """Stop launching, then cancel running jobs (they stay resumable). Safe to call from a signal handler."""
        self.stopping = True
        self.graph.growing = False
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

    def _stuck(self) -> bool:
        """Nothing ready, running or waiting to retry, yet jobs pending: their dependencies can never run."""
        return not self.graph.ready and not self._tasks and not self.graph.retry_timers

    async def _dispatch(self) -> None:
        while not self.stopping:
            if not self.graph.ready:
                if not self.graph.unfinished() or self._stuck():
                    return
                await self._wait_event()
                continue
            await self._sem.acquire()
            job = None if self.stopping else self.graph.ready.pop()
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
                    current = None if self.stopping else self.graph.ready.pop()
                    if current is None:
                        self._sem.release()
                    else:
                        current.holds_permit = True
            reattached = False

    async def _run_one(self, job: GraphJob, reattached: bool) -> None:
        if reattached:
            job.handle = job.record.handle
            job.started, job.started_wall = time.monotonic(), time.time()
            self.graph.emit(job, "reattached", f"handle {job.handle}")
        elif not await self._submit(job):
            return
        elif self.stopping:  # the stop came while this launch was in flight (remote launches take seconds)
            if self.fatal is not None:
                return  # recorded as running with its handle: the next controller re-attaches it
            try:
                await self.backend.cancel([job.handle or ""])
            except Exception as exc:  # noqa: BLE001
                self.on_event("controller", "warning", f"cancel failed: {exc}")
            await self.verdicts.finish(job, JobStatus(BackendState.CANCELLED, None, "stopped by the controller"))
            return
        job.future = asyncio.get_running_loop().create_future()
        assert job.handle is not None
        self._running[job.handle] = job
        status = await job.future
        self._running.pop(job.handle, None)
        if status is _DETACHED:
            return
        await self.verdicts.finish(job, status)

    async def _submit(self, job: GraphJob) -> bool:
        rec = job.record
        async with self._throttler:
            if self.stopping:
                return False
            hint = min(self.cap, len(self._running) + len(self.graph.ready) + 1)
            if hasattr(self.backend, "concurrency_hint"):
                self.backend.concurrency_hint = hint  # type: ignore[attr-defined]
            self.graph.touch(job)
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
                await self.verdicts.finish(job, JobStatus(BackendState.FAILED, None, detail))
                return False
        self.graph.touch(job)
        job.handle = rec.handle = rec.history[-1].handle = handle
        self.graph.emit(job, "start", f"attempt {rec.attempts}")
        self.graph.changed()
        return True

    def _undo_attempt(self, job: GraphJob) -> None:
        """A submit that launched nothing: the job is pending again, as if it had never been tried."""
        self.graph.touch(job)
        undo_attempt(job.record)
        job.session_attempts -= 1
        self.launches -= 1
        self.graph.changed()

    def _set_fatal(self, message: str) -> None:
        if self.fatal is None:
            self.fatal = message
            self.on_event("controller", "error", message)
        self.request_stop()

    # ---- watching running jobs --------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        last_stall_check = last_snapshot_check = time.monotonic()
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
                    self.graph.emit(job, "recovering" if status.recovering else "recovered", status.detail)
            now = time.monotonic()
            if self.local_files and now - last_snapshot_check >= 1.0:  # interim evaluations during training
                last_snapshot_check = now
                for job in self.graph.early_interims():
                    self.graph.make_ready(job)
            if self.config.stall_timeout and now - last_stall_check >= stall_every:
                last_stall_check = now
                await self._check_stalls({h: j for h, j in waiting.items() if self._local(h)})

    async def _check_stalls(self, waiting: dict[str, GraphJob]) -> None:
        timeout = self.config.stall_timeout
        assert timeout is not None
        now = time.time()
        stalled = [(h, j) for h, j in waiting.items() if not j.future.done() and now - j.heartbeat() > timeout]
        if not stalled:
            return
        for _, job in stalled:
            job.kill_reason = f"stalled: no progress (log, metrics) for {now - job.heartbeat():.0f} s; killed"
            self.graph.emit(job, "stalled", job.kill_reason)
        await self.backend.cancel([h for h, _ in stalled])
        for _, job in stalled:
            if not job.future.done():
                job.future.set_result(JobStatus(BackendState.CANCELLED, None, "killed: stalled"))

    async def _stop_running(self) -> None:
        """Ctrl-C: cancel every running job; each one's watcher marks it pending (resumable)."""
        for timer in self.graph.retry_timers.values():
            timer.cancel()
        self.graph.retry_timers.clear()
        handles = [h for h, j in self._running.items() if j.future is not None and not j.future.done()]
        if handles and self.fatal is not None:  # cancelling needs the backend too: leave them, recorded
            for handle in handles:
                job = self._running[handle]
                self.graph.emit(job, "detached", f"left running as {handle}; the same command re-attaches it")
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
        return self.graph.outcome(self.stopping and self.fatal is None, self.launches, self.fatal)
