"""How a plan grows while it runs, and how its estimates are filled: the adaptive seeds (sequential.py), the
screening rungs (screening.py) and the calibration probe (probe.py), wired to the plan and the ledger."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from benchmark.orchestration.grid import make_plan, merge_plan, plan_throughput
from benchmark.orchestration.ledger import Ledger
from benchmark.orchestration.options import ExperimentOptions
from benchmark.orchestration.plan import Plan, Role, Throughput, build_plan, run_id
from benchmark.orchestration.screening import Screening, ScreeningConfig, ScreeningSource
from benchmark.orchestration.sequential import AdaptiveSource, SequentialConfig, SequentialSeeds


def probed_plan(
    options: ExperimentOptions, archs: list[str], levels: list[str], wandb_mode: str, plan: Plan, console: Console
) -> Plan:
    """--dry-run --local: fill the estimates no ledger has measured with the calibration probe (probe.py)."""
    from benchmark.cpus import available_cpus
    from benchmark.orchestration import factory
    from benchmark.orchestration.probe import probe

    runs = {r.run_id: r for r in plan.runs}
    missing = list(
        dict.fromkeys(
            (runs[j.run_id].architecture if j.run_id in runs else archs[0], j.level)  # a baseline: any policy
            for j in plan.jobs
            if j.estimate_seconds is None
        )
    )
    if not missing:
        return plan
    parallel = options.max_parallel or factory.default_max_parallel(options)
    threads = max(1, available_cpus() // parallel)
    cache = Path(options.output_dir) / ".probe"
    console.print(
        f"estimates: {len(missing)} cell(s) without measured throughput get the probe (two short updates each at "
        f"{threads} thread(s), as a job at --max-parallel {parallel}; cached in {cache}/, --no-probe skips it)",
        highlight=False,
    )
    measured = plan_throughput(options)[0]
    probed = probe(missing, cache, "cpu", threads, options.episodes, options.architectures_module, console.print)
    merged = Throughput(
        train_sps={**probed.train_sps, **measured.train_sps},
        eval_seconds={**probed.eval_seconds, **measured.eval_seconds},
    )
    return make_plan(options, archs, levels, wandb_mode, throughput=merged)


def screening_source(
    options: ExperimentOptions, archs: list[str], levels: list[str], wandb_mode: str, plan: Plan, ledger: Ledger
) -> ScreeningSource:
    """--screen: the policy, wired to grow `plan` and the ledger with each level's next rung."""
    from benchmark.architectures import module_reference

    throughput = plan_throughput(options)[0]
    config = ScreeningConfig(rungs=options.screen_rungs)
    budgets = {level: options.level_timesteps.get(level, options.timesteps) for level in levels}
    top = config.rungs - 1
    module = module_reference(options.architectures_module) if options.architectures_module else None

    def add_rung(level: str, rung: int, rung_archs: list[str]) -> list:
        grown = build_plan(
            experiment_id=options.experiment_id,
            root=plan.paths.root,
            architectures=rung_archs,
            levels=[level],
            seeds=list(range(options.seeds_per_level)),
            timesteps=config.budget(budgets[level], rung),
            episodes=options.episodes,
            wandb_mode=wandb_mode,
            architectures_module=module,
            throughput=throughput,
            rung=None if rung == top else rung,
        )
        if rung > 0:  # continue the previous rung's checkpoint
            jobs = []
            for job in grown.jobs:
                if job.role == Role.TRAIN:
                    run = next(r for r in grown.runs if r.run_id == job.run_id)
                    earlier = run_id(options.experiment_id, run.architecture, level, run.seed) + f".r{rung - 1}"
                    init = plan.paths.run_dir(earlier) / "checkpoint.pt"
                    job = replace(job, argv=(*job.argv, "--init-from", str(init)))
                jobs.append(job)
            grown = Plan(grown.experiment_id, grown.paths, grown.timesteps, grown.episodes, grown.runs, jobs)
        merge_plan(ledger, grown)
        return plan.extend(grown)

    return ScreeningSource(Screening(archs, levels, budgets, config), ledger, options.seeds_per_level, add_rung)


def sequential_policy(
    options: ExperimentOptions, archs: list[str], levels: list[str], permutations: int = 10_000
) -> SequentialSeeds:
    config = SequentialConfig(
        seeds_per_stage=options.seeds_per_level,
        max_stages=options.interims,
        alpha=options.alpha,
        permutations=permutations,
        futility=options.futility,
    )
    return SequentialSeeds(archs, levels, config)


def adaptive_source(
    options: ExperimentOptions,
    archs: list[str],
    levels: list[str],
    wandb_mode: str,
    plan: Plan,
    ledger: Ledger,
    permutations: int = 10_000,
) -> AdaptiveSource:
    """--adaptive: the policy, wired to grow `plan` and the ledger with the seeds it asks for."""
    throughput = plan_throughput(options)[0]  # once: the adaptive plan grows after every evaluation

    def add_cells(cells: dict[tuple[str, str], int]) -> list:
        grown = make_plan(options, archs, levels, wandb_mode, cells=cells, throughput=throughput)
        merge_plan(ledger, grown)
        return plan.extend(grown)

    return AdaptiveSource(sequential_policy(options, archs, levels, permutations), ledger, add_cells)
