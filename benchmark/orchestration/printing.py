"""What the controller prints: the plan with its estimates (and a cloud plan's price), and the final account."""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.table import Table

from benchmark.orchestration.graph import Outcome
from benchmark.orchestration.jobs import record_for
from benchmark.orchestration.ledger import Ledger, Status
from benchmark.orchestration.options import ExperimentOptions
from benchmark.orchestration.plan import Plan, Role, estimate_makespan


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def print_plan(console: Console, plan: Plan, options: ExperimentOptions, ledger: Ledger | None, cap: int) -> None:
    archs = list(dict.fromkeys(r.architecture for r in plan.runs))
    levels = list(dict.fromkeys(r.level for r in plan.runs))
    kinds = {r: sum(j.role == r for j in plan.jobs) for r in (Role.TRAIN, Role.EVAL, Role.BASELINE, Role.INTERIM)}
    done = done_jobs(plan, ledger)
    if options.skip_training:
        done |= {j.job_id for j in plan.jobs if j.role == Role.TRAIN}
    console.print(
        f"experiment [bold]{plan.experiment_id}[/]: {_n(len(plan.runs), 'run')} = {_n(len(archs), 'architecture')}"
        f" x {_n(len(levels), 'level')} x {_n(options.seeds_per_level, 'seed')}; {len(plan.jobs)} jobs "
        f"({kinds[Role.TRAIN]} train, {kinds[Role.EVAL]} eval, {kinds[Role.BASELINE]} random baseline"
        + (f", {kinds[Role.INTERIM]} interim eval" if kinds[Role.INTERIM] else "")
        + "); "
        + (
            f"{plan.timesteps:,} agent steps per run"
            if not plan.level_timesteps
            else "agent steps per run: "
            + ", ".join(f"{lv} {plan.timesteps_for(lv):,}" for lv in dict.fromkeys(r.level for r in plan.runs))
        )
        + f", {plan.agent_steps:,} in all"
        + (" (--skip-training: no training)" if options.skip_training else "")
    )
    console.print(f"architectures: {', '.join(archs)}\nlevels: {', '.join(levels)}")
    console.print(f"results: {plan.paths.root} ({'resuming: ' + str(len(done)) + ' jobs done' if ledger else 'new'})")
    if ledger is not None:
        new = [r.run_id for r in plan.runs if ledger.run(r.run_id) is None]
        if new:
            shown = ", ".join(new[:10]) + (f" and {len(new) - 10} more" if len(new) > 10 else "")
            console.print(f"new runs (--extend): {len(new)}: {shown}", highlight=False, soft_wrap=True)
    table = Table(title="launch order (breadth-first over seeds, longest first)", title_justify="left")
    for col in ("#", "job", "estimate", "state"):
        table.add_column(col)
    todo = [j for j in plan.jobs if j.job_id not in done]
    for i, job in enumerate(todo[:30], 1):
        est = _duration(job.estimate_seconds) if job.estimate_seconds is not None else "unknown"
        table.add_row(str(i), job.job_id, est, "pending")
    if len(todo) > 30:
        table.add_row("...", f"{len(todo) - 30} more", "", "")
    console.print(table)
    seconds, unknown = estimate_makespan(plan, cap, skip=done)
    if not todo:
        console.print("time estimate: nothing left to run")
    elif not unknown:
        console.print(f"time estimate: ~{_duration(seconds)} at --max-parallel {cap} (from measured throughput)")
    elif len(unknown) < len(todo):
        console.print(
            f"time estimate: at least ~{_duration(seconds)} at --max-parallel {cap}; unknown for "
            f"{len(unknown)} of {len(todo)} jobs (no measured throughput yet)"
        )
    else:
        console.print("time estimate: unknown (no earlier ledger under the output folder has measured throughput)")


def done_jobs(plan: Plan, ledger: Ledger | None) -> set[str]:
    done = set()
    if ledger is not None:
        for job in plan.jobs:
            with contextlib.suppress(KeyError):
                if record_for(ledger, job).status == Status.SUCCESS:
                    done.add(job.job_id)
    return done


def print_cost(
    console: Console, plan: Plan, options: ExperimentOptions, ledger: Ledger | None, gpu_measured: bool
) -> None:
    """A cloud dry run's node-hours and dollars, each with its source (see orchestration.cloud_cost)."""
    from benchmark.orchestration.cloud_cost import catalog_price, cost_lines

    price, problem = catalog_price(options.accelerator, options.gpus, options.cloud)
    done = done_jobs(plan, ledger)
    if options.eval_where == "local":  # evaluations run on this machine: no cloud bill
        done |= {job.job_id for job in plan.jobs if job.role != Role.TRAIN}
        console.print(
            "evaluations run on this machine (--eval-where local): only trainings are priced", highlight=False
        )
    for line in cost_lines(
        plan,
        done,
        accelerator=options.accelerator,
        gpus=options.gpus,
        cloud=options.cloud,
        use_spot=options.use_spot,
        cluster=bool(options.cluster),
        gpu_measured=gpu_measured,
        price=price,
        price_problem=problem,
    ):
        console.print(line, highlight=False, soft_wrap=True)


def print_summary(
    console: Console, plan: Plan, ledger: Ledger, outcome: Outcome, resume: str, remote: str | None = None
) -> None:
    runs = [ledger.run(r.run_id) for r in plan.runs]
    evaluated = sum(r is not None and r.evaluation.status == Status.SUCCESS for r in runs)
    console.print(
        f"\n{evaluated}/{len(runs)} runs evaluated; jobs: {outcome.succeeded} succeeded, {outcome.failed} failed, "
        f"{outcome.skipped} skipped, {outcome.pending} not finished; {outcome.launches} launched this session"
    )
    problems = [
        (job.job_id, rec.status.value, rec.error)
        for job in plan.jobs
        if (rec := record_for(ledger, job)).status in (Status.FAILED, Status.SKIPPED)
        and rec.error
        and not rec.error.startswith("--skip-training: not trained")
    ]
    for job_id, status, error in problems[:20]:
        console.print(f"  [red]{status}[/] {job_id}: {error}", highlight=False, soft_wrap=True)
    if len(problems) > 20:
        console.print(f"  ... and {len(problems) - 20} more (see the ledger)")
    if ledger.adaptive is not None:
        from benchmark.orchestration.sequential import describe_level

        cap = ledger.adaptive.seeds_per_stage * ledger.adaptive.max_stages
        alpha = ledger.adaptive.alpha
        console.print(f"adaptive (permutation tests, Holm, family-wise error {alpha} per level, cap {cap} seeds):")
        for level, decisions in ledger.adaptive.levels.items():
            console.print(f"  {describe_level(level, decisions)}", highlight=False, soft_wrap=True)
    paths = plan.paths
    console.print(f"ledger:      {paths.ledger}")
    if remote is None:
        console.print(f"run folders: {paths.root / 'runs'}/<run id> (checkpoint.pt, metrics.jsonl, eval.json)")
    else:
        console.print(f"run folders: {paths.root / 'runs'}/<run id> (train_summary.json, eval.json from the logs)")
        console.print(f"on the bucket: {remote}/<run id> (checkpoint.pt, metrics.jsonl, the same JSON files)")
    console.print(f"baselines:   {paths.root / 'baselines'}/<level>.json")
    console.print(f"logs:        {paths.logs}/<job id>.log")
    if outcome.interrupted:
        console.print(f"[yellow]interrupted[/]: resume with\n  {resume}", highlight=False, soft_wrap=True)
    elif outcome.failed or outcome.pending:
        console.print(f"re-running the same command retries what failed:\n  {resume}", highlight=False, soft_wrap=True)
