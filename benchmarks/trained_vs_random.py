"""One trained-vs-random measurement (train, evaluate, compare on the same episodes), recorded as a JSON line.

Shared by `calibrate.py` (every architecture on level 1) and `ladder.py` (one architecture up the levels).
A record is appended to its JSONL file as soon as it exists, so an interrupted batch loses nothing and a
re-run skips what is recorded (trainings resume from their checkpoints).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from benchmark.evaluation.evaluator import evaluate
from benchmark.training.config import TrainConfig
from benchmark.training.trainer import SUMMARY, train

METRICS = ("reward_per_agent", "hearts_per_agent")
KEY = ("architecture", "tag", "seed", "level", "timesteps_requested")


def load_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def random_baseline(level: str, episodes: int, out: Path) -> dict:
    """The random policy on the level's evaluation episodes (cached per level and episode count)."""
    return evaluate(level_name=level, policy_kind="random", episodes=episodes, threads=1,
                    out=out / f"random_{level}_{episodes}.json")  # fmt: skip


def measure(
    *,
    level: str,
    architecture: str,
    seed: int,
    timesteps: int,
    episodes: int,
    out: Path,
    ledger: Path,
    tag: str = "",
    overrides: dict | None = None,
    threads: int | None = None,
) -> dict:
    """Train (or resume, or skip when recorded), evaluate, compare with random; append and return the record."""
    key = (architecture, tag, seed, level, timesteps)
    for record in load_records(ledger):
        if tuple(record[k] for k in KEY) == key:
            return record
    random = random_baseline(level, episodes, out)
    run = out / f"{architecture}{'.' + tag if tag else ''}.{level}.s{seed}.{timesteps}"
    start = time.time()
    train(TrainConfig(level=level, architecture=architecture, seed=seed, timesteps=timesteps, out=run,
                      threads=threads, **(overrides or {})))  # fmt: skip
    summary = json.loads((run / SUMMARY).read_text())
    trained = evaluate(run_dir=run, episodes=episodes, threads=1)
    record = {
        "architecture": architecture,
        "tag": tag,
        "seed": seed,
        "level": level,
        "timesteps_requested": timesteps,
        "agent_steps": summary["agent_steps"],
        "sps": summary["sps"],
        "train_seconds": round(time.time() - start, 1),
        "settings": summary["settings"],
        "precision": summary["precision"],
        "episodes": episodes,
    }
    for sim, t in trained["simulations"].items():
        for m in METRICS:
            tm, rm = t[m]["mean"], random["simulations"][sim][m]["mean"]
            record[f"{sim}.{m}"] = {"trained": tm, "random": rm, "ratio": tm / rm if rm else float("inf")}
    ledger.parent.mkdir(parents=True, exist_ok=True)
    with ledger.open("a") as f:
        f.write(json.dumps(record) + "\n")
    return record
