"""Reading what jobs wrote: the measured figures the ledger records, and whether a job's work is already done.

A job's own files are the second source of truth after the ledger: a controller killed between a job's end and
its next ledger write finds the job complete here and does not run it again.

Remote jobs (SkyPilot) write their run folders on the bucket, which the controller need not be able to read.
So a job run with ARCHBENCH_PRINT_RESULT=1 ends by printing its result file as one line, `ARCHBENCH_RESULT
{"kind": "train"|"eval", "data": {...}}`; the controller downloads the job's log when it ends and
`materialize_result` writes that JSON to the job's output file in the local run folder (train_summary.json,
eval.json, baselines/<level>.json), where `collect` reads it as it reads a local job's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import ValidationError

from benchmark.atomic import atomic_write_text
from benchmark.orchestration.ledger import EvalMetrics, SimulationMetrics, TrainMetrics
from benchmark.orchestration.plan import PlannedJob, Role

CHECKPOINT = "checkpoint.pt"  # as benchmark.training.checkpoint (not imported: it imports torch)
METRICS = "metrics.jsonl"
EVAL_FORMAT = "archbench-eval-v1"
RESULT_MARKER = "ARCHBENCH_RESULT"
PRINT_RESULT_ENV = "ARCHBENCH_PRINT_RESULT"  # set on remote nodes: the CLI then prints the marker line
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


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
            timesteps_requested=data.get("timesteps_requested"),
            settings=data.get("settings"),
            sps=data["sps"],
            parameters=data["parameters"],
            checkpoint=data.get("checkpoint") or str(run_dir / CHECKPOINT),
            wall_seconds=data["wall_seconds"],
            device=data.get("device"),
            threads=data.get("threads"),
            resumed_from=data.get("resumed_from", 0),
            metrics_file=str(run_dir / METRICS) if (run_dir / METRICS).exists() else None,
            wandb=data.get("wandb"),
            stopped_early=data.get("stopped_early"),
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
                behaviour_per_agent=m.get("behaviour_per_agent", {}),
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
        reached = metrics.agent_steps >= timesteps or metrics.stopped_early is not None
        return metrics if reached and checkpoint_of(job).exists() else None
    if metrics.episodes_per_simulation != (job.episodes or episodes):
        return None
    if job.role in (Role.EVAL, Role.INTERIM):  # it must have evaluated the current checkpoint
        ckpt = checkpoint_of(job)
        if not ckpt.exists() or job.output.stat().st_mtime < ckpt.stat().st_mtime:
            return None
    return metrics


# ---- results of remote jobs, carried in their logs -------------------------------------------------------------


def result_line(kind: str, data: dict) -> str:
    """The marker line a remote job prints last: its result file as compact one-line JSON."""
    return f"{RESULT_MARKER} " + json.dumps({"kind": kind, "data": data}, separators=(",", ":"))


def result_from_log(log: Path) -> dict | None:
    """The payload of the last marker line in the log's last attempt (after the last `==== ` header), or None.

    The marker may sit after a prefix SkyPilot adds to a line (node name, pid) or inside colour codes.
    """
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    found = None
    for raw in text.splitlines():
        line = _ANSI.sub("", raw)
        if line.startswith("==== "):
            found = None
            continue
        at = line.find(RESULT_MARKER + " {")
        if at >= 0:
            found = line[at + len(RESULT_MARKER) + 1 :].strip()
    if found is None:
        return None
    try:
        payload = json.loads(found)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) and isinstance(payload.get("data"), dict) else None


def materialize_result(job: PlannedJob, log: Path) -> Path:
    """Write the result a remote job printed in its log to the job's local output file; OutputError if none."""
    payload = result_from_log(log)
    if payload is None:
        raise OutputError(f"the job ended well but its log {log} holds no {RESULT_MARKER} line")
    if payload.get("kind") != job.kind.value:
        raise OutputError(f"{log}: its {RESULT_MARKER} line is a {payload.get('kind')!r} result, not {job.kind.value}")
    atomic_write_text(job.output, json.dumps(payload["data"], indent=1) + "\n", fsync=False)
    return job.output
