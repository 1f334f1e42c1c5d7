"""`archbench`: train, evaluate, list, report, references, replay, and run (the controller)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

os.environ.setdefault("METTAGRID_LOG_LEVEL", "WARNING")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmark.cli_results import list_, references, replay, report  # noqa: E402
from benchmark.cli_support import HELP_OPTIONS, VERSION_OPTION, parse_count, positive, run_command  # noqa: E402
from benchmark.errors import UsageError, usage_errors  # noqa: E402

DETERMINISTIC_FAILURE = 3  # exit code of a job failing the same way every time: the controller does not retry it

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=__doc__,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
)
console = Console(stderr=True)


@app.callback()
def _root(version: Annotated[bool, VERSION_OPTION] = False) -> None:
    """Train, evaluate, list, run and report: see each command's -h."""


@app.command()
@usage_errors
def train(
    level: Annotated[str, typer.Option(help="level name (see `archbench list`)")] = "level_1_basic",
    architecture: Annotated[str, typer.Option(help="architecture name (see `archbench list`)")] = "fast",
    seed: Annotated[int, typer.Option(help="seeds torch, numpy, every simulation and map")] = 0,
    timesteps: Annotated[
        int, typer.Option(parser=parse_count, help="agent steps to train for (2000000, 2_000_000 or 2e6)")
    ] = 2_000_000,
    out: Annotated[
        Path | None,
        typer.Option(
            help="run folder; an existing checkpoint there is resumed (default results/runs/ARCH.LEVEL.sSEED)"
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    threads: Annotated[int | None, typer.Option(help="torch threads")] = None,
    env_workers: Annotated[
        int | None,
        typer.Option(help="environment worker processes (0: in this process; default: from the cores, none on 1-2)"),
    ] = None,
    double_buffer: Annotated[
        bool | None,
        typer.Option(
            "--double-buffer/--no-double-buffer",
            help="with 2+ env workers: half the simulations step while the policy acts for the other (default: CUDA)",
        ),
    ] = None,
    precision: Annotated[str, typer.Option(help="auto, fp32 or bf16 (auto: bf16 where the hardware has it)")] = "auto",
    rows: Annotated[int, typer.Option(help="agents per batch")] = 384,
    bptt: Annotated[
        int | None, typer.Option(help="rollout segment length = BPTT horizon (default: the architecture's, or 64)")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="passes over each rollout (default: the architecture's, or 1)")
    ] = None,
    minibatches: Annotated[
        int | None, typer.Option(help="minibatches per epoch (default: the architecture's, or 12)")
    ] = None,
    learning_rate: Annotated[
        float | None, typer.Option(help="Adam learning rate (default: the architecture's, or 1.15e-3)")
    ] = None,
    entropy_coef: Annotated[
        float | None, typer.Option(help="entropy bonus (default: the architecture's, or 0.01)")
    ] = None,
    checkpoint_seconds: Annotated[float, typer.Option(help="seconds between checkpoints")] = 60.0,
    wandb_mode: Annotated[str, typer.Option(help="offline, online or disabled")] = "disabled",
    experiment_id: Annotated[str | None, typer.Option(help="W&B group (set by the controller)")] = None,
    run_id: Annotated[str | None, typer.Option(help="stable run id (set by the controller)")] = None,
    architectures_module: Annotated[str | None, typer.Option(help="module that registers architectures")] = None,
    init_from: Annotated[
        Path | None,
        typer.Option(help="continue another run's checkpoint (a screening rung): copied in when --out has none"),
    ] = None,
    snapshots: Annotated[
        str | None, typer.Option(help="keep a checkpoint at these percentages of the budget, in OUT/at<p>/: 25,50,75")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Train one architecture on one level with PPO."""
    from benchmark.architectures import get_architecture, load_architectures_module, module_reference
    from benchmark.levels import get_level
    from benchmark.training.config import TrainConfig

    positive("timesteps", timesteps)
    if architectures_module:
        load_architectures_module(architectures_module)
        architectures_module = module_reference(architectures_module)
    get_level(level)
    get_architecture(architecture)
    cfg = TrainConfig(
        level=level,
        architecture=architecture,
        seed=seed,
        timesteps=timesteps,
        out=out,
        device=device,
        threads=threads,
        env_workers=env_workers,
        double_buffer=double_buffer,
        precision=precision,
        rows=rows,
        bptt=bptt,
        epochs=epochs,
        minibatches=minibatches,
        learning_rate=learning_rate,
        entropy_coef=entropy_coef,
        checkpoint_seconds=checkpoint_seconds,
        wandb_mode=wandb_mode,
        experiment_id=experiment_id,
        run_id=run_id,
        architectures_module=architectures_module,
        init_from=init_from,
        snapshots=parse_percentages("--snapshots", snapshots),
    )
    out = cfg.out  # the run folder: --out, else TrainConfig's per-run default
    from benchmark.training.run_folder import SUMMARY, finished_run
    from benchmark.training.trainer import NonFiniteLoss
    from benchmark.training.trainer import train as run_training

    done = finished_run(cfg)
    if done is not None:
        console.print(
            f"already trained: {done.agent_steps:,} agent steps (asked {timesteps:,}) in {out}; nothing to do, "
            "its files are left as they are"
        )
        _print_result("train", out / SUMMARY)
        return

    with _progress(quiet) as bar:
        task = bar.add_task(f"train {architecture} on {level} (seed {seed})", total=timesteps)

        def report(step: int, total: int, line: dict) -> None:
            extra = f"{line['sps']:.0f} sps"
            if "reward_per_agent" in line:
                extra += f", reward/agent {line['reward_per_agent']:.2f}, hearts/agent {line['hearts_per_agent']:.2f}"
            bar.update(task, total=total, completed=step, description=f"train {architecture} on {level}: {extra}")

        try:
            result = run_training(cfg, progress=report)
        except NonFiniteLoss as exc:
            console.print(f"error: {exc} (deterministic: a retry would fail the same way)")
            raise typer.Exit(DETERMINISTIC_FAILURE) from None
    console.print(
        f"trained {result.agent_steps:,} agent steps (asked {timesteps:,}) in {result.wall_seconds:.0f} s "
        f"({result.sps:,.0f} sps); run folder: {out}"
    )
    if result.stopped_early:
        console.print(f"stopped early: {result.stopped_early}", highlight=False)
    _print_result("train", out / SUMMARY)


def parse_percentages(flag: str, text: str | None) -> list[int]:
    """`25,50,75` -> [25, 50, 75]; a UsageError naming the bad value otherwise."""
    from benchmark.orchestration.resume import percentages

    try:
        values = percentages(text or "")
    except ValueError as exc:
        raise UsageError(f"{flag} {text}: {exc}") from None
    if text and not values:
        raise UsageError(f"{flag} {text}: give whole percentages between 1 and 99, e.g. 25,50,75")
    return values


@app.command()
@usage_errors
def evaluate(
    run: Annotated[Path | None, typer.Option(help="run folder holding checkpoint.pt")] = None,
    policy: Annotated[
        str, typer.Option(help="trained (from --run), random or scripted (the expert every level is scored against)")
    ] = "trained",
    level: Annotated[str | None, typer.Option(help="level (required for --policy random / scripted)")] = None,
    episodes: Annotated[int, typer.Option(parser=parse_count, help="episodes per evaluation simulation")] = 16,
    seed: Annotated[int, typer.Option(help="seed of the action sampling")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    threads: Annotated[int | None, typer.Option(help="torch threads")] = None,
    out: Annotated[Path | None, typer.Option(help="metrics JSON path (default RUN/eval.json)")] = None,
    architectures_module: Annotated[str | None, typer.Option(help="module that registers architectures")] = None,
    wandb_mode: Annotated[str, typer.Option(help="offline, online or disabled")] = "disabled",
    replays: Annotated[
        int, typer.Option(help="episodes per simulation recorded as MettaScope replays beside the output (0: none)")
    ] = 1,
) -> None:
    """Evaluate a checkpoint (or the random or scripted policy) on many episodes of each evaluation simulation."""
    from benchmark.evaluation.evaluator import BASELINES
    from benchmark.evaluation.evaluator import evaluate as run_eval
    from benchmark.levels import get_level
    from benchmark.training.checkpoint import CHECKPOINT

    positive("episodes", episodes)
    if replays < 0:
        raise UsageError(f"--replays must be 0 or more episodes per simulation, got {replays}")
    if wandb_mode not in ("offline", "online", "disabled"):
        raise UsageError(f"unknown --wandb-mode {wandb_mode!r}; valid: offline, online, disabled")
    if policy not in ("trained", *BASELINES):
        raise UsageError(f"unknown policy {policy!r}; valid: trained, {', '.join(BASELINES)}")
    if run is not None and run.is_file():  # the checkpoint itself: its folder was meant
        run = run.parent
    if policy == "trained":
        if run is None:
            raise UsageError(
                "--run DIR is required to evaluate a trained policy (or use --policy random|scripted --level L)"
            )
        if not (run / CHECKPOINT).is_file():
            raise UsageError(f"no checkpoint at {run / CHECKPOINT}: train first, or pass the run folder")
    elif level is None:
        raise UsageError(f"--policy {policy} needs --level (see `archbench list`)")
    if level is not None:
        get_level(level)
    if policy in BASELINES and out is None:
        out = Path("results") / f"{policy}_{level}.json"
    result = run_eval(
        run_dir=run,
        level_name=level,
        policy_kind=policy,
        episodes=episodes,
        seed=seed,
        device_name=device,
        threads=threads,
        out=out,
        architectures_module=architectures_module,
        wandb_mode=wandb_mode,
        replays=replays,
    )
    table = Table(title=f"{result['architecture']} on {result['level']} ({episodes} episodes per simulation)")
    for col in ("simulation", "reward/agent (95% CI)", "hearts/agent (95% CI)"):
        table.add_column(col)
    for sim, m in result["simulations"].items():
        r, h = m["reward_per_agent"], m["hearts_per_agent"]
        table.add_row(
            sim,
            f"{r['mean']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]",
            f"{h['mean']:.2f} [{h['ci_low']:.2f}, {h['ci_high']:.2f}]",
        )
    Console().print(table)
    console.print(f"metrics written to {result.get('path')}")
    if result.get("replays"):
        files = [f for per_sim in result["replays"]["files"].values() for f in per_sim]
        folder = Path(result["path"]).parent / Path(files[0]).parent
        console.print(f"{len(files)} MettaScope replay(s) written to {folder}/", soft_wrap=True)
    if result.get("path"):
        _print_result("eval", Path(result["path"]))


# ---- commands that look at what exists: list, report, references, replay (benchmark/cli_results.py) -------------
app.command("list")(list_)
app.command()(report)
app.command()(references)

# ---- `archbench run`: the experiment controller (same command as `python benchmark/adaptive.py`) ----------------
from benchmark.adaptive import run as _run_experiment  # noqa: E402

app.command("run")(_run_experiment)
app.command()(replay)


def _print_result(kind: str, path: Path) -> None:
    """On a remote node (ARCHBENCH_PRINT_RESULT=1): the result file as the log's last line, for the controller."""
    from benchmark.orchestration.outputs import PRINT_RESULT_ENV, result_line

    if os.environ.get(PRINT_RESULT_ENV) == "1":
        print(result_line(kind, json.loads(path.read_text())), flush=True)


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )


def main(argv: list[str] | None = None) -> None:
    run_command(typer.main.get_command(app), argv, "archbench")


if __name__ == "__main__":
    main()
