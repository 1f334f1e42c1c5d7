"""Shared helpers of the controller tests (kept out of conftest.py so other branches' conftest merges cleanly)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchmark.orchestration.controller import merge_plan
from benchmark.orchestration.graph import Outcome
from benchmark.orchestration.ledger import Environment, Ledger, LedgerStore, now_iso
from benchmark.orchestration.plan import Plan, build_plan
from benchmark.orchestration.scheduler import Scheduler, SchedulerConfig

TESTS = Path(__file__).resolve().parent
FAKE_JOB = TESTS / "fake_job.py"
TINY_ARCH = TESTS / "fixtures" / "tiny_arch.py"
ROOT = TESTS.parent


def make_plan(
    tmp_path: Path,
    archs=("a", "b"),
    levels=("l1", "l2"),
    seeds=2,
    timesteps=100,
    episodes=2,
    baselines=True,
    experiment_id="x",
    **kwargs,
) -> Plan:
    return build_plan(
        experiment_id=experiment_id,
        root=tmp_path / experiment_id,
        architectures=list(archs),
        levels=list(levels),
        seeds=list(range(seeds)),
        timesteps=timesteps,
        episodes=episodes,
        baselines=baselines,
        **kwargs,
    )


def new_ledger(plan: Plan) -> Ledger:
    ledger = Ledger(
        experiment_id=plan.experiment_id,
        start_time=now_iso(),
        updated_time=now_iso(),
        max_timesteps=plan.timesteps,
        config={"timesteps": plan.timesteps, "episodes": plan.episodes},
        environment=Environment(
            python="3", torch=None, mettagrid=None, git_commit=None, platform="p", hostname="h", cpus=2
        ),
    )
    merge_plan(ledger, plan)
    return ledger


def new_store(plan: Plan) -> LedgerStore:
    store = LedgerStore(plan.paths.ledger, new_ledger(plan), fsync=False)
    store.save()
    return store


def run_scheduler(plan: Plan, store: LedgerStore, backend, events=None, **config) -> Outcome:
    config.setdefault("backoff_seconds", 0.0)
    sched = Scheduler(
        plan,
        store,
        backend,
        SchedulerConfig(**config),
        on_event=(lambda j, e, m: events.append((j, e, m))) if events is not None else None,
    )
    return asyncio.run(sched.run())
