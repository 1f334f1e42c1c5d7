"""Shared by the simulation benchmarks: one experiment through the controller core on the fake backend.

The plan, the ledger, the scheduler and a job source (the adaptive or the screening policy, wired as the
controller wires it), with evaluation jobs that report scores chosen by the simulation. No files but the
ledger and the fake jobs' outputs, in a scratch folder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from benchmark.orchestration.backends.fake import FakeBackend, FakeOutcome, parse_options
from benchmark.orchestration.grid import make_plan, merge_plan
from benchmark.orchestration.ledger import Environment, Ledger, LedgerStore, now_iso
from benchmark.orchestration.options import ExperimentOptions
from benchmark.orchestration.plan import Plan, Throughput
from benchmark.orchestration.scheduler import Scheduler, SchedulerConfig

Score = Callable[[str, int, int | None], float]  # (architecture, seed, rung or None) -> the run's score


def empty_ledger(plan: Plan) -> Ledger:
    ledger = Ledger(
        experiment_id=plan.experiment_id,
        start_time=now_iso(),
        updated_time=now_iso(),
        max_timesteps=plan.timesteps,
        config={},
        environment=Environment(
            python="-", torch=None, mettagrid=None, git_commit=None, platform="-", hostname="-", cpus=1
        ),
    )
    merge_plan(ledger, plan)
    return ledger


def run_simulated(options: ExperimentOptions, make_source: Callable[[Plan, Ledger], object], score: Score) -> Ledger:
    """Run the experiment `options` describes; `make_source(plan, ledger)` wires its policy. Returns the ledger."""
    archs, levels = list(options.architectures or []), list(options.levels or [])
    plan = make_plan(options, [] if options.screen else archs, levels, "disabled", throughput=Throughput())
    ledger = empty_ledger(plan)
    source = make_source(plan, ledger)
    store = LedgerStore(plan.paths.ledger, ledger, fsync=False)
    store.save()

    def script(spec) -> FakeOutcome:
        command, opts = parse_options(spec.argv)
        if command == "evaluate" and "run" in opts:
            parts = Path(opts["run"]).name.split(".")  # <experiment>.<arch>.<level>.s<seed>[.r<rung>]
            rung = int(parts[4][1:]) if len(parts) > 4 else None
            return FakeOutcome(duration=0.0, reward=float(score(parts[1], int(parts[3][1:]), rung)))
        return FakeOutcome(duration=0.0)

    backend = FakeBackend(script=script, poll_interval=0.001)
    config = SchedulerConfig(max_parallel=8, retries=0, stall_timeout=None, backoff_seconds=0.0)
    outcome = asyncio.run(Scheduler(plan, store, backend, config, source=source).run())  # type: ignore[arg-type]
    if not outcome.complete:
        raise RuntimeError(f"simulated experiment did not complete: {outcome}")
    source.update()  # type: ignore[attr-defined]
    return ledger
