"""From options to a plan and its ledger records: names checked against the registries, measured throughput
for the estimates, the plan, and the merge of a plan's runs into a (new or resumed) ledger."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

from benchmark.errors import UsageError, unknown_name
from benchmark.orchestration.jobs import interim_key, record_for
from benchmark.orchestration.ledger import (
    LEDGER_FORMAT,
    BaselineRecord,
    EvaluationRecord,
    Ledger,
    RunRecord,
    TrainingRecord,
)
from benchmark.orchestration.options import ExperimentOptions
from benchmark.orchestration.plan import LEDGER_NAME, Plan, Role, Throughput, build_plan
from benchmark.orchestration.resume import BUDGET_KEYS, REEVALUATE_KEYS  # fixed once an experiment started

# ---- options -> names -----------------------------------------------------------------------------------------


def resolve_names(options: ExperimentOptions) -> tuple[list[str], list[str]]:
    """Architecture and level names, checked against the registries (UsageError listing the valid ones)."""
    from benchmark.architectures import ARCHITECTURES, load_architectures_module
    from benchmark.levels import LEVELS

    if options.architectures_module:
        try:
            load_architectures_module(options.architectures_module)
        except (ImportError, FileNotFoundError, ValueError, TypeError) as exc:
            raise UsageError(f"--architectures-module {options.architectures_module}: {exc}") from None
    archs = options.architectures or list(ARCHITECTURES)
    levels = options.levels or list(LEVELS)
    for kind, names, registry in (
        ("architecture", archs, ARCHITECTURES),
        ("level", [*levels, *options.level_timesteps], LEVELS),
    ):
        bad = [name for name in names if name not in registry]
        if bad:
            raise UsageError(unknown_name(kind, bad[0], registry).replace(f"{bad[0]!r}", bad[0], 1))
    for flag, on in (("--adaptive", options.adaptive), ("--screen", options.screen)):
        if on and len(archs) < 2:
            raise UsageError(f"{flag} compares architectures: give at least two (got {', '.join(archs)})")
    return archs, levels


def measured_throughput(output_dir: Path, device: str | None = None) -> Throughput:
    """Median training SPS and eval seconds per (architecture, level) over every ledger under output_dir
    (only trainings that ran on `device`, when given)."""
    sps: dict[tuple[str, str], list[float]] = defaultdict(list)
    evals: dict[tuple[str, str], list[float]] = defaultdict(list)
    for path in sorted(Path(output_dir).glob(f"*/{LEDGER_NAME}")):
        try:
            raw = json.loads(path.read_text())
            if raw.get("format") != LEDGER_FORMAT:
                continue
            for run in raw.get("runs", []):
                key = (run["architecture"], run["level"])
                tr, ev = run.get("training", {}), run.get("evaluation", {})
                on = device is None or (tr.get("metrics") or {}).get("device") == device
                if tr.get("status") == "success" and (tr.get("metrics") or {}).get("sps") and on:
                    sps[key].append(float(tr["metrics"]["sps"]))
                if ev.get("status") == "success" and ev.get("duration_seconds"):
                    evals[key].append(float(ev["duration_seconds"]))
            for level, base in raw.get("baselines", {}).items():
                if base.get("status") == "success" and base.get("duration_seconds"):
                    evals[("random", level)].append(float(base["duration_seconds"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # an unreadable ledger only costs us an estimate
    return Throughput(
        train_sps={k: statistics.median(v) for k, v in sps.items()},
        eval_seconds={k: statistics.median(v) for k, v in evals.items()},
    )


def plan_throughput(options: ExperimentOptions) -> tuple[Throughput, bool]:
    """Measured throughput for the estimates, and whether it was measured on a GPU (preferred on the cloud)."""
    if not options.local:
        gpu = measured_throughput(options.output_dir, device="cuda")
        if gpu.train_sps:
            return gpu, True
    return measured_throughput(options.output_dir), False


def make_plan(
    options: ExperimentOptions,
    archs: list[str],
    levels: list[str],
    wandb_mode: str | None = None,
    cells: dict[tuple[str, str], int] | None = None,
    throughput: Throughput | None = None,
) -> Plan:
    """The grid's plan; `cells` (--adaptive): the seeds each (architecture, level) cell has so far."""
    from benchmark.architectures import module_reference
    from benchmark.orchestration.factory import resolve_wandb_mode

    seeds = max(cells.values(), default=0) if cells else options.seeds_per_level
    return build_plan(
        experiment_id=options.experiment_id,
        root=Path(options.output_dir) / options.experiment_id,
        architectures=archs,
        levels=levels,
        seeds=list(range(seeds)),
        cells=cells,
        timesteps=options.timesteps,
        level_timesteps=options.level_timesteps,
        episodes=options.episodes,
        wandb_mode=wandb_mode or resolve_wandb_mode(options),
        architectures_module=module_reference(options.architectures_module) if options.architectures_module else None,
        throughput=throughput or plan_throughput(options)[0],
        interim=options.interim_evals,
    )


# ---- the ledger -----------------------------------------------------------------------------------------------


def check_budget(ledger: Ledger, options: ExperimentOptions) -> None:
    for key in BUDGET_KEYS:
        if options.reevaluate and key in REEVALUATE_KEYS:
            continue
        before = ledger.config.get(key)
        now = getattr(options, key)
        if before is not None and before != now:
            raise UsageError(
                f"experiment {options.experiment_id} was started with --{key} {before}, not {now}: "
                f"resume with the same --{key}, or start another --experiment-id"
            )


def merge_plan(ledger: Ledger, plan: Plan) -> None:
    """Add records for the plan's runs and baselines the ledger lacks (a new or extended grid)."""
    for job in plan.jobs:
        if job.role == Role.BASELINE and job.level not in ledger.baselines:
            ledger.baselines[job.level] = BaselineRecord(
                job_id=job.job_id, level=job.level, command=job.command, log=str(job.log_path)
            )
    for run in plan.runs:
        if ledger.run(run.run_id) is None:
            train, ev = plan.job(f"{run.run_id}.train"), plan.job(f"{run.run_id}.eval")
            ledger.runs.append(
                RunRecord(
                    run_id=run.run_id,
                    architecture=run.architecture,
                    level=run.level,
                    seed=run.seed,
                    run_dir=str(run.run_dir),
                    rung=run.rung,
                    training=TrainingRecord(job_id=train.job_id, command=train.command, log=str(train.log_path)),
                    evaluation=EvaluationRecord(job_id=ev.job_id, command=ev.command, log=str(ev.log_path)),
                )
            )
    for job in plan.jobs:  # interim evaluations of runs old or new
        if job.role == Role.INTERIM:
            run = ledger.run(job.run_id)
            if run is not None and interim_key(job) not in run.interim:
                run.interim[interim_key(job)] = EvaluationRecord(
                    job_id=job.job_id, command=job.command, log=str(job.log_path)
                )
    for job in plan.jobs:  # the command may change with new options (wandb mode); keep it current
        record_for(ledger, job).command = job.command
