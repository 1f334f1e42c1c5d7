"""Run a whole benchmark grid: `python benchmark/adaptive.py --experiment-id X --timesteps N --local`.

The same command is `archbench run ...`. Every (architecture, level, seed) becomes a run: a training job, then
an evaluation job; each level also gets one random-policy baseline. Results: <output-dir>/X/benchmark_results.json.
Re-running the same command resumes: finished jobs are not run again.

    python benchmark/adaptive.py --recipe first                       # the README first run (~3 min on 2 cores)
    python benchmark/adaptive.py --experiment-id demo --timesteps 200000 --local --max-parallel 2 \\
        --architectures fast --levels level_1_basic --seeds-per-level 2
    python benchmark/adaptive.py --experiment-id rank --timesteps 400000 --local --adaptive --seeds-per-level 5 \\
        --architectures fast,fast_lstm_reset,memory_free --levels level_1_basic   # seeds where undecided
    python benchmark/adaptive.py --experiment-id screen --timesteps 2e6 --local --screen --seeds-per-level 2 \\
        --levels level_1_basic                                    # every architecture at 500k, the best at 2M
    python benchmark/adaptive.py --recipe full --dry-run               # the plan and a time estimate only
    python benchmark/adaptive.py --recipe full --no-local --storage s3://my-bucket/archbench --use-spot \\
        --accelerator L4                                               # on SkyPilot: one managed job per job
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

if __name__ == "__main__":  # run as a script: import the package from the project root, not from benchmark/
    _root = str(Path(__file__).resolve().parent.parent)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, _root)
    os.environ.setdefault("METTAGRID_LOG_LEVEL", "WARNING")

import typer  # noqa: E402

from benchmark.cli_support import HELP_OPTIONS, VERSION_OPTION, parse_count, run_command  # noqa: E402
from benchmark.errors import usage_errors  # noqa: E402


@usage_errors
def run(
    experiment_id: Annotated[str | None, typer.Option(help="names the experiment: <output-dir>/<id>/")] = None,
    timesteps: Annotated[
        int | None, typer.Option(parser=parse_count, help="agent steps per training run (2000000, 2_000_000 or 2e6)")
    ] = None,
    local: Annotated[bool | None, typer.Option("--local/--no-local", help="run jobs on this machine")] = None,
    max_parallel: Annotated[
        int | None,
        typer.Option(
            help="jobs at once, train and eval both count (default: min(4, cpus) locally; on the cloud "
            "nodes x gpus-per-node / gpus in cluster mode, else 8 managed jobs)"
        ),
    ] = None,
    seeds_per_level: Annotated[
        int | None, typer.Option(help="seeds per cell (default 3); with --adaptive, seeds per interim")
    ] = None,
    adaptive: Annotated[
        bool | None,
        typer.Option(
            "--adaptive",
            help="add seeds only where a comparison on the level is undecided (permutation tests, Holm, per level)",
        ),
    ] = None,
    max_seeds: Annotated[
        int | None, typer.Option(help="--adaptive: seeds per cell at most (default 4 x --seeds-per-level)")
    ] = None,
    alpha: Annotated[
        float | None, typer.Option(help="--adaptive: family-wise error over a level's comparisons (default 0.05)")
    ] = None,
    futility: Annotated[
        float | None,
        typer.Option(
            help="--adaptive: stop adding seeds to a pair whose chance of a decision by the cap, if the difference "
            "seen so far is the true one, is below this (default 0.2; 0: never)"
        ),
    ] = None,
    interim_evals: Annotated[
        str | None,
        typer.Option(
            help="evaluate each run's checkpoints at these percentages of its budget too (a quarter of the "
            "episodes), for sample-efficiency curves on evaluation episodes: 25,50,75"
        ),
    ] = None,
    screen: Annotated[
        bool | None,
        typer.Option(
            "--screen",
            help="successive halving per level: all architectures at a small budget, the better half continues "
            "from its checkpoints at twice the budget, up to --timesteps",
        ),
    ] = None,
    screen_rungs: Annotated[int | None, typer.Option(help="--screen: rungs (default 3: budgets N/4, N/2, N)")] = None,
    architectures: Annotated[str | None, typer.Option(help="comma-separated names (default all)")] = None,
    levels: Annotated[str | None, typer.Option(help="comma-separated names (default all)")] = None,
    skip_training: Annotated[
        bool | None, typer.Option("--skip-training", help="only evaluate the checkpoints the runs already have")
    ] = None,
    reevaluate: Annotated[
        bool | None,
        typer.Option(
            "--reevaluate",
            help="evaluate every checkpoint and baseline again, finished ones too (another --episodes is allowed); "
            "implies --skip-training; earlier results are kept",
        ),
    ] = None,
    retries: Annotated[int | None, typer.Option(help="retries per failed job (default 2)")] = None,
    retry_backoff: Annotated[
        float | None, typer.Option(help="seconds before a first retry, doubling (default 10)")
    ] = None,
    output_dir: Annotated[Path | None, typer.Option(help="where experiments go (default results)")] = None,
    wandb_mode: Annotated[
        str | None, typer.Option(help="offline, online or disabled (default offline with --local)")
    ] = None,
    dry_run: Annotated[bool | None, typer.Option("--dry-run", help="print the plan and launch nothing")] = None,
    probe: Annotated[
        bool | None,
        typer.Option(
            "--probe/--no-probe",
            help="--dry-run --local: time a few seconds of training per cell no ledger has measured (default on)",
        ),
    ] = None,
    extend: Annotated[
        bool | None,
        typer.Option("--extend", help="resuming: add the --architectures, --levels or --seeds-per-level given"),
    ] = None,
    recipe: Annotated[
        str | None, typer.Option(help="a named experiment: recipes/NAME.toml (first, smoke, quick, full); flags win")
    ] = None,
    episodes: Annotated[
        int | None, typer.Option(parser=parse_count, help="evaluation episodes per simulation (default 16)")
    ] = None,
    architectures_module: Annotated[
        str | None, typer.Option(help="module or .py file that registers more architectures")
    ] = None,
    stall_timeout: Annotated[
        float | None, typer.Option(help="kill and retry a job silent for this many seconds (default 900)")
    ] = None,
    jobs_per_gpu: Annotated[int | None, typer.Option(help="local jobs sharing one GPU (default 1)")] = None,
    gpus: Annotated[int | None, typer.Option(help="cloud: GPUs per job (default 1)")] = None,
    accelerator: Annotated[str | None, typer.Option(help="cloud: GPU type, e.g. L4, A100, H100 (default L4)")] = None,
    cloud: Annotated[
        str | None, typer.Option(help="cloud: SkyPilot infra, e.g. aws, gcp/us-central1 (default: any enabled)")
    ] = None,
    use_spot: Annotated[
        bool | None, typer.Option("--use-spot/--no-use-spot", help="cloud: spot instances (recovered if preempted)")
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help="cloud: bucket URI for run folders, e.g. s3://bucket/archbench (required)")
    ] = None,
    cluster: Annotated[
        str | None, typer.Option(help="cloud: run every job on this one shared cluster (default: managed jobs)")
    ] = None,
    eval_where: Annotated[
        str | None,
        typer.Option(
            help="cloud: where evaluations run: cloud, or local (this machine, from the bucket's checkpoints)"
        ),
    ] = None,
    nodes: Annotated[int | None, typer.Option(help="cluster mode: nodes (default 1)")] = None,
    gpus_per_node: Annotated[int | None, typer.Option(help="cluster mode: GPUs per node (default --gpus)")] = None,
    version: Annotated[bool, VERSION_OPTION] = False,
) -> None:
    """Train and evaluate every architecture on every level over several seeds; resumable, crash-safe."""
    from benchmark.orchestration.controller import run_experiment
    from benchmark.orchestration.options import resolve_options

    options = resolve_options(
        {
            "experiment_id": experiment_id,
            "timesteps": timesteps,
            "local": local,
            "max_parallel": max_parallel,
            "seeds_per_level": seeds_per_level,
            "adaptive": adaptive,
            "max_seeds": max_seeds,
            "alpha": alpha,
            "futility": futility,
            "interim_evals": interim_evals,
            "screen": screen,
            "screen_rungs": screen_rungs,
            "architectures": architectures,
            "levels": levels,
            "skip_training": skip_training,
            "reevaluate": reevaluate,
            "retries": retries,
            "retry_backoff": retry_backoff,
            "output_dir": output_dir,
            "wandb_mode": wandb_mode,
            "dry_run": dry_run,
            "probe": probe,
            "extend": extend,
            "recipe": recipe,
            "episodes": episodes,
            "architectures_module": architectures_module,
            "stall_timeout": stall_timeout,
            "jobs_per_gpu": jobs_per_gpu,
            "gpus": gpus,
            "accelerator": accelerator,
            "cloud": cloud,
            "use_spot": use_spot,
            "storage": storage,
            "cluster": cluster,
            "eval_where": eval_where,
            "nodes": nodes,
            "gpus_per_node": gpus_per_node,
        }
    )
    code = run_experiment(options, resume_command())
    if code:
        raise typer.Exit(code)


def resume_command() -> str:
    """The command line that started this controller, as the user typed it (to resume with)."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "adaptive.py":
        return shlex.join(["python", *sys.argv])
    return shlex.join(["archbench", *sys.argv[1:]])


def main(argv: list[str] | None = None) -> None:
    """Script entry point: bad flags of any kind are one line and exit 2, like every usage error here."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, context_settings=HELP_OPTIONS)
    app.command(help=run.__doc__)(run)
    run_command(typer.main.get_command(app), argv, "benchmark/adaptive.py")


if __name__ == "__main__":
    main()
