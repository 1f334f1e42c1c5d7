"""Before the scheduler's loop: each job's starting state from what the ledger, the backend and the files say.

A job recorded as running is re-attached when the backend still runs it; one that ended while no controller
watched is judged by its outputs; a job whose files show its work done succeeds without running; `--skip-training`
skips trainings that left a checkpoint. Then every pending job whose dependency holds is made ready.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from benchmark.orchestration.backend import TERMINAL_STATES, Backend, BackendState, JobStatus
from benchmark.orchestration.backends import BackendUnavailable
from benchmark.orchestration.graph import JobGraph
from benchmark.orchestration.jobs import GraphJob, close_attempt
from benchmark.orchestration.ledger import Status
from benchmark.orchestration.outputs import OutputError, checkpoint_of, collect
from benchmark.orchestration.plan import Role

FetchRemote = Callable[[GraphJob, JobStatus], Awaitable[JobStatus]]


class Unavailable(Exception):
    """The backend cannot be reached at all: nothing can run, every record stays as the ledger has it."""


async def reconcile(
    graph: JobGraph, backend: Backend, skip_training: bool, fetch_remote: FetchRemote
) -> list[GraphJob]:
    """Decide each job's starting state; returns the jobs to re-attach (still running on the backend)."""
    reattach = await _judge_recorded(graph, backend, fetch_remote)
    if skip_training:
        for job in graph.jobs.values():
            p, rec = job.planned, job.record
            if rec.status == Status.SUCCESS or job in reattach or p.role != Role.TRAIN:
                continue
            ckpt = checkpoint_of(p)
            if ckpt.exists():
                rec.status, rec.error = Status.SKIPPED, "--skip-training: not trained; evaluating its checkpoint"
                try:
                    rec.metrics = collect(p)  # type: ignore[attr-defined]
                except OutputError:
                    pass
            else:
                graph.skip(job, f"--skip-training and no checkpoint at {ckpt}")
    for job in graph.jobs.values():
        p, rec = job.planned, job.record
        if rec.status != Status.PENDING or job in reattach:
            continue
        if p.depends_on is None:
            graph.make_ready(job)
            continue
        parent = graph.jobs[p.depends_on]
        if parent.record.status == Status.SUCCESS or (skip_training and checkpoint_of(p).exists()):
            graph.make_ready(job)
    graph.save_all()
    return reattach


async def _judge_recorded(graph: JobGraph, backend: Backend, fetch_remote: FetchRemote) -> list[GraphJob]:
    """Jobs the ledger records as unfinished: still running (re-attach), ended unwatched, or done on disk."""
    reattach: list[GraphJob] = []
    running_here = [
        j
        for j in graph.jobs.values()
        if j.record.status == Status.RUNNING and j.record.handle and j.record.backend == backend.name
    ]
    statuses: dict[str, JobStatus] = {}
    if running_here:
        try:
            statuses = await backend.poll([j.record.handle for j in running_here])  # type: ignore[misc]
        except BackendUnavailable as exc:
            raise Unavailable(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - an unreachable backend means: start them again
            graph.on_event("controller", "warning", f"could not poll earlier jobs ({exc}); starting them again")
    for job in graph.jobs.values():
        rec = job.record
        if rec.status == Status.SUCCESS:
            continue
        status = statuses.get(rec.handle or "") if rec.status == Status.RUNNING else None
        if status is not None and status.state not in TERMINAL_STATES:
            reattach.append(job)
            continue
        if status is not None and status.state == BackendState.SUCCEEDED:
            graph.touch(job)
            close_attempt(rec, job.started, "success", status.exit_code, "ended while no controller watched it")
            await fetch_remote(job, status)
            try:
                graph.succeed(job, collect(job.planned), "ended while no controller watched it")
                continue
            except OutputError:
                pass
        elif rec.status == Status.RUNNING:
            detail = "the controller stopped while this job ran"
            if status is not None:  # it ended unwatched: say how, with its log when it is remote
                detail = status.detail or detail
                await fetch_remote(job, status)
            graph.touch(job)
            close_attempt(rec, job.started, "lost", status.exit_code if status else None, detail)
        done = graph.completed(job.planned)
        if done is not None:
            graph.succeed(job, done, "found complete outputs of an earlier attempt")
            continue
        rec.status, rec.error = Status.PENDING, None
    return reattach
