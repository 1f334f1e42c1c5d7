"""The `archbench` commands that look at what exists: `list` (levels, architectures), `report` (an experiment's
statistics and report), `references` (measure the fixed reference scores) and `replay` (an episode as an
animation). `benchmark/cli.py` registers them beside `train`, `evaluate` and `run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from benchmark.cli_support import parse_count, positive
from benchmark.errors import UsageError, usage_errors

console = Console(stderr=True)


@usage_errors
def list_(
    architectures_module: Annotated[str | None, typer.Option(help="module that registers architectures")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Levels and architectures (with parameter counts and memory kind)."""
    from benchmark.architectures import ARCHITECTURES, load_architectures_module
    from benchmark.components.base import ObsSpec
    from benchmark.levels import LEVELS
    from benchmark.policy import Policy, count_parameters
    from benchmark.training.vecenv import BatchedEnv

    if architectures_module:
        load_architectures_module(architectures_module)
    env = BatchedEnv(LEVELS["level_1_basic"], 1)
    spec: ObsSpec = env.spec
    env.close()
    archs = [
        {
            "name": name,
            "parameters": count_parameters(Policy(cfg, spec)),
            "memory": cfg.memory_kind,
            "observation": cfg.encoder.observation,
            "description": cfg.description,
        }
        for name, cfg in ARCHITECTURES.items()
    ]
    levels = [
        {
            "name": lv.name,
            "agents": lv.num_agents,
            "map": f"{lv.width}x{lv.height}",
            "combat": lv.combat,
            "evaluations": list(lv.evaluations),
            "title": lv.title,
        }
        for lv in LEVELS.values()
    ]
    if as_json:
        print(json.dumps({"levels": levels, "architectures": archs}, indent=2))
        return
    out = Console()
    lt = Table(title="Levels")
    for col in ("name", "agents", "map", "combat", "evaluations", "description"):
        lt.add_column(col)
    for lv in levels:
        lt.add_row(
            lv["name"],
            str(lv["agents"]),
            lv["map"],
            "on" if lv["combat"] else "off",
            ", ".join(lv["evaluations"]),
            lv["title"],
        )
    out.print(lt)
    at = Table(title="Architectures (parameters on level 1's observations)")
    for col in ("name", "parameters", "memory", "input", "chain"):
        at.add_column(col)
    for a in archs:
        at.add_row(a["name"], f"{a['parameters']:,}", a["memory"], a["observation"], a["description"])
    out.print(at)


@usage_errors
def report(
    experiment_id: Annotated[str, typer.Argument(help="the experiment (an id, or its folder / results file)")],
    output_dir: Annotated[Path, typer.Option(help="folder holding <experiment>/benchmark_results.json")] = Path(
        "results"
    ),
    reps: Annotated[int, typer.Option(help="bootstrap repetitions for aggregate intervals")] = 50_000,
    normalise: Annotated[
        str,
        typer.Option(
            help="reference: 0 = random, 1 = scripted expert (fixed across experiments); best: 1 = this grid's best"
        ),
    ] = "reference",
) -> None:
    """Statistics, plots and a report (md + self-contained html) from an experiment's results file."""
    from benchmark.reporting.loader import build_report, locate_experiment
    from benchmark.reporting.stats import NORMALISATIONS

    positive("reps", reps)
    if normalise not in NORMALISATIONS:
        raise UsageError(f"unknown --normalise {normalise!r}; valid: {', '.join(NORMALISATIONS)}")
    experiment_id, output_dir = locate_experiment(experiment_id, output_dir)
    paths = build_report(experiment_id, output_dir, reps=reps, normalise=normalise)
    console.print(
        f"report written to {paths['report.md'].parent}: report.md, report.html, "
        f"{sum(1 for k in paths if k.startswith('figures/'))} figures, "
        f"{sum(1 for k in paths if k.startswith('tables/'))} CSV tables, marl_eval.json"
    )


@usage_errors
def references(
    levels: Annotated[str | None, typer.Option(help="comma-separated levels (default: every level)")] = None,
    episodes: Annotated[int, typer.Option(parser=parse_count, help="evaluation episodes per simulation")] = 32,
    out: Annotated[Path | None, typer.Option(help="where to write (default: the file the package ships)")] = None,
) -> None:
    """Measure the reference scores (random = 0, scripted expert = 1) on every level's evaluation episodes."""
    from benchmark.errors import unknown_name
    from benchmark.evaluation.references import measure_references, write_references
    from benchmark.levels import LEVELS
    from benchmark.levels.references import REFERENCES_FILE

    positive("episodes", episodes)
    names = [n.strip() for n in levels.split(",") if n.strip()] if levels else list(LEVELS)
    for name in names:
        if name not in LEVELS:
            raise UsageError(unknown_name("level", name, LEVELS))
    data = measure_references(names, episodes, progress=console.print)
    path = write_references(data, out or REFERENCES_FILE)
    console.print(f"reference scores ({episodes} episodes per evaluation) written to {path}", soft_wrap=True)


@usage_errors
def replay(
    file: Annotated[Path, typer.Argument(help="a MettaScope replay (.json.z) written by `archbench evaluate`")],
    out: Annotated[Path | None, typer.Option(help="the animation: .gif or .mp4 (default: a .gif beside it)")] = None,
    every: Annotated[int | None, typer.Option(help="draw every N-th step (default: about 200 frames)")] = None,
) -> None:
    """Render a replay as a GIF (or an MP4, with the `video` extra): map, buildings, agents by what they carry."""
    import time

    from benchmark.reporting.animation import FORMATS, render_gif

    if not file.is_file():
        raise UsageError(f"no replay at {file}: `archbench evaluate` writes them to <output>.replays/")
    if every is not None and every < 1:
        raise UsageError(f"--every must be 1 or more steps, got {every}")
    target = out or file.with_name(file.name.removesuffix(".z").removesuffix(".json") + ".gif")
    if target.suffix.lower() not in FORMATS:
        raise UsageError(f"--out {target}: valid endings are {' and '.join(FORMATS)}")
    started = time.time()
    try:
        made = render_gif(file, target, every)
    except RuntimeError as exc:  # an .mp4 without imageio-ffmpeg
        raise UsageError(str(exc)) from None
    console.print(
        f"{made['frames']} frames (every {made['every']} steps), {made['size'][0]}x{made['size'][1]} px, "
        f"{made['bytes'] / 1e6:.2f} MB in {time.time() - started:.1f} s: {target}",
        soft_wrap=True,
    )
