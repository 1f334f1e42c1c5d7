"""Measuring the reference scores: the random policy (0) and the scripted expert (1) on every level's fixed
evaluation episodes (`archbench references`; reading them is `benchmark.levels.references`).

They make a score mean the same thing in every experiment: normalised against these fixed numbers, two grids
run months apart (or a grid of one architecture) are on one scale. A test recomputes a few episodes and
compares with the shipped file.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from collections.abc import Callable, Iterable
from pathlib import Path

from benchmark.atomic import atomic_write_json
from benchmark.evaluation.evaluator import BASELINES, evaluate
from benchmark.levels.references import FORMAT, REFERENCES_FILE, load_references

REFERENCE_EPISODES = 32
METRICS = ("reward_per_agent", "hearts_per_agent")


def measure_references(
    levels: Iterable[str], episodes: int = REFERENCE_EPISODES, progress: Callable[[str], None] | None = None
) -> dict:
    """Evaluate every baseline policy on `levels` (the fixed evaluation episodes 0..episodes-1)."""
    out: dict = {
        "format": FORMAT,
        "mettagrid": importlib.metadata.version("mettagrid"),
        "episodes": episodes,
        "date": dt.date.today().isoformat(),
        "levels": {},
    }
    for level in levels:
        per_sim: dict = {}
        for policy in BASELINES:
            result = evaluate(level_name=level, policy_kind=policy, episodes=episodes, threads=1)
            for sim, summary in result["simulations"].items():
                per_sim.setdefault(sim, {})[policy] = {
                    **{m: summary[m] for m in METRICS},
                    "per_episode": summary["per_episode"],
                }
            if progress is not None:
                shown = ", ".join(f"{s} {v[policy]['reward_per_agent']['mean']:.2f}" for s, v in per_sim.items())
                progress(f"{level} {policy}: reward/agent {shown} ({result['seconds']:.0f} s)")
        out["levels"][level] = per_sim
    return out


def write_references(data: dict, path: Path = REFERENCES_FILE) -> Path:
    """Write `data`, keeping the file's other levels when they were measured the same way (same episodes and
    MettaGrid), so re-measuring one level does not drop the rest."""
    if path.is_file():
        old = load_references(path)
        if (old.get("episodes"), old.get("mettagrid")) == (data["episodes"], data["mettagrid"]):
            data = {**data, "levels": {**old["levels"], **data["levels"]}}
    data.pop("sha256", None)  # a property of the written file, added when it is read
    atomic_write_json(path, data)
    return path
