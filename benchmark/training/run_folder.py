"""A training run's folder: its learning curve, its summary, and whether it is finished or resumable.

A run folder holds `checkpoint.pt`, `metrics.jsonl` (one line per logged update) and, once the budget is
reached, `train_summary.json`; the trainer resumes from the checkpoint and trims the curve back to it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from benchmark.atomic import atomic_write_text
from benchmark.training.checkpoint import CHECKPOINT
from benchmark.training.config import TrainConfig

METRICS = "metrics.jsonl"
SUMMARY = "train_summary.json"


@dataclass
class TrainResult:
    agent_steps: int
    wall_seconds: float
    sps: float
    parameters: int
    checkpoint: Path
    resumed_from: int
    already_done: bool = False  # the run folder held a finished training: nothing was trained or rewritten
    stopped_early: str | None = None  # why the run ended before its budget (a collapsed policy)


def trim_metrics(path: Path, max_step: int) -> None:
    """Drop metrics lines logged after the checkpoint we resume from (they will be logged again); atomically, so
    a crash here cannot leave the curve half written."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["agent_steps"] <= max_step]
    atomic_write_text(path, "".join(ln + "\n" for ln in keep))


def adopt(checkpoint: Path, out: Path) -> None:
    """Start `out` from another run's checkpoint and learning curve; the trainer then resumes it as its own."""
    if not checkpoint.is_file():
        raise FileNotFoundError(f"--init-from {checkpoint}: no such checkpoint")
    shutil.copyfile(checkpoint, out / (CHECKPOINT + ".partial"))
    curve = checkpoint.parent / METRICS
    if curve.exists() and not (out / METRICS).exists():
        shutil.copyfile(curve, out / METRICS)
    os.replace(out / (CHECKPOINT + ".partial"), out / CHECKPOINT)


def finished_run(cfg: TrainConfig) -> TrainResult | None:
    """The result of a training already finished in `cfg.out` (same run, budget reached), else None."""
    out = Path(cfg.out)
    try:
        summary = json.loads((out / SUMMARY).read_text())
    except (OSError, ValueError):
        return None
    same = (summary.get("level"), summary.get("architecture"), summary.get("seed")) == (
        cfg.level,
        cfg.architecture,
        cfg.seed,
    )
    reached = summary.get("agent_steps", 0) >= cfg.timesteps or bool(summary.get("stopped_early"))
    if not same or not reached or not (out / CHECKPOINT).exists():
        return None
    return TrainResult(
        agent_steps=summary["agent_steps"],
        wall_seconds=summary["wall_seconds"],
        sps=summary["sps"],
        parameters=summary["parameters"],
        checkpoint=out / CHECKPOINT,
        resumed_from=summary.get("resumed_from", 0),
        already_done=True,
        stopped_early=summary.get("stopped_early"),
    )
