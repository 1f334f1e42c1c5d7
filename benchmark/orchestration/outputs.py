"""Reading what jobs wrote: the measured figures the ledger records, and whether a job's work is already done.

A job's own files are the second source of truth after the ledger: a controller killed between a job's end and
its next ledger write finds the job complete here and does not run it again.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from benchmark.orchestration.ledger import EvalMetrics, SimulationMetrics, TrainMetrics
from benchmark.orchestration.plan import PlannedJob, Role

CHECKPOINT = "checkpoint.pt"  # as benchmark.training.checkpoint (not imported: it imports torch)
METRICS = "metrics.jsonl"
EVAL_FORMAT = "archbench-eval-v1"


class OutputError(RuntimeError):
    """A job exited 0 but its output is missing or unreadable."""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise OutputError(f"exit 0 but {path} is missing") from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"exit 0 but {path} is unreadable ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise OutputError(f"exit 0 but {path} is not a JSON object")
    return data


def read_train_metrics(run_dir: Path) -> TrainMetrics:
    data = _read_json(run_dir / "train_summary.json")
    try:
        return TrainMetrics(
            agent_steps=data["agent_steps"],
            sps=data["sps"],
            parameters=data["parameters"],
            checkpoint=data.get("checkpoint") or str(run_dir / CHECKPOINT),
            wall_seconds=data["wall_seconds"],
            device=data.get("device"),
            threads=data.get("threads"),
            resumed_from=data.get("resumed_from", 0),
            metrics_file=str(run_dir / METRICS) if (run_dir / METRICS).exists() else None,
            wandb=data.get("wandb"),
        )
    except (KeyError, ValidationError) as exc:
        raise OutputError(f"{run_dir / 'train_summary.json'} lacks a field ({exc})") from None


def read_eval_metrics(path: Path) -> EvalMetrics:
    data = _read_json(path)
    if data.get("format") != EVAL_FORMAT:
        raise OutputError(f"{path} is not an evaluation result (format {data.get('format')!r})")
    try:
        sims = {
            name: SimulationMetrics(
                episodes=m["episodes"],
                reward_per_agent=m["reward_per_agent"],
                hearts_per_agent=m["hearts_per_agent"],
                gained_per_agent=m.get("gained_per_agent", {}),
            )
            for name, m in data["simulations"].items()
        }
        return EvalMetrics(
            file=str(path),
            policy=data.get("policy", "trained"),
            episodes_per_simulation=data["episodes_per_simulation"],
            checkpoint_agent_steps=data.get("checkpoint_agent_steps", 0),
            seconds=data.get("seconds"),
            simulations=sims,
            wandb=data.get("wandb"),
        )
    except (KeyError, TypeError, ValidationError) as exc:
        raise OutputError(f"{path} lacks a field ({type(exc).__name__}: {exc})") from None


def collect(job: PlannedJob) -> TrainMetrics | EvalMetrics:
    """The measured figures of a job that exited 0 (OutputError when its files say otherwise)."""
    if job.role == Role.TRAIN:
        return read_train_metrics(job.run_dir)
    return read_eval_metrics(job.output)


def checkpoint_of(job: PlannedJob) -> Path:
    return job.run_dir / CHECKPOINT


def completed(job: PlannedJob, timesteps: int, episodes: int) -> TrainMetrics | EvalMetrics | None:
    """The job's figures if its files show its work done for this experiment's budget, else None."""
    try:
        metrics = collect(job)
    except OutputError:
        return None
    if isinstance(metrics, TrainMetrics):
        return metrics if metrics.agent_steps >= timesteps and checkpoint_of(job).exists() else None
    if metrics.episodes_per_simulation != episodes:
        return None
    if job.role == Role.EVAL:  # it must have evaluated the current checkpoint
        ckpt = checkpoint_of(job)
        if not ckpt.exists() or job.output.stat().st_mtime < ckpt.stat().st_mtime:
            return None
    return metrics
