"""How the report shows its tables: numbers and intervals formatted, columns named for readers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.reporting.tables import improvement_matrix


def num(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return f"{float(value):.{digits}f}"


def ci(point: float, low: float, high: float, digits: int = 2) -> str:
    if not np.isfinite(point):
        return "n/a"
    return f"{point:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def ranking_display(ranking: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in ranking.to_dict("records"):
        rows.append(
            {
                "rank": r["rank"],
                "architecture": r["architecture"],
                "runs": r["runs"],
                "IQM [CI]": ci(r["iqm"], r["iqm_low"], r["iqm_high"]),
                "median": ci(r["median"], r["median_low"], r["median_high"]),
                "mean": ci(r["mean"], r["mean_low"], r["mean_high"]),
                "optimality gap": ci(r["optimality_gap"], r["optimality_gap_low"], r["optimality_gap_high"]),
                "reward/agent (raw)": num(r["reward_per_agent"], 3),
                "hearts/agent (raw)": num(r["hearts_per_agent"], 3),
            }
        )
    return pd.DataFrame(rows)


def level_raw_display(level_raw: pd.DataFrame) -> pd.DataFrame:
    def spread(mean: float, std: float) -> str:
        return "n/a" if not np.isfinite(mean) else f"{mean:.3f}" + (f" ± {std:.3f}" if np.isfinite(std) else "")

    return pd.DataFrame(
        {
            "level": level_raw["level"],
            "architecture": level_raw["architecture"],
            "seeds ok": [f"{a}/{b}" for a, b in zip(level_raw["seeds_ok"], level_raw["seeds"], strict=True)],
            "reward/agent (mean ± sd)": [
                spread(m, s)
                for m, s in zip(level_raw["reward_per_agent_mean"], level_raw["reward_per_agent_std"], strict=True)
            ],
            "random reward": level_raw["random_reward_per_agent"].map(lambda v: num(v, 3)),
            "hearts/agent (mean ± sd)": [
                spread(m, s)
                for m, s in zip(level_raw["hearts_per_agent_mean"], level_raw["hearts_per_agent_std"], strict=True)
            ],
            "random hearts": level_raw["random_hearts_per_agent"].map(lambda v: num(v, 3)),
            "normalised": level_raw["normalized_mean"].map(num),
        }
    )


def ladder_display(ladder: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "level": ladder["level"],
            "random": ladder["random"].map(lambda v: num(v, 3)),
            "scripted expert": ladder["scripted"].map(lambda v: num(v, 3)),
            "scripted / random": ladder["scripted_over_random"].map(
                lambda v: num(v, 1) + "x" if np.isfinite(v) else "n/a"
            ),
            "best architecture": ladder["best_architecture"].replace("", "none"),
            "its raw score": ladder["best_raw"].map(lambda v: num(v, 3)),
            "its normalised score": ladder["best_normalized"].map(num),
        }
    )


def improvement_display(improvement: pd.DataFrame) -> pd.DataFrame:
    matrix = improvement_matrix(improvement)
    if matrix.empty:
        return matrix
    cells = {(r.x, r.y): ci(r.probability, r.low, r.high) for r in improvement.itertuples(index=False)}
    rows = [
        {"P(row > column)": x} | {y: ("—" if x == y else cells[(x, y)]) for y in matrix.columns} for x in matrix.index
    ]
    return pd.DataFrame(rows)


def throughput_display(throughput: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "architecture": throughput["architecture"],
            "runs": throughput["runs"],
            "parameters": [
                num(p, 0) + (" (varies)" if vary else "")
                for p, vary in zip(throughput["parameters"], throughput["parameters_vary"], strict=True)
            ],
            "train agent-steps/s": [
                f"{m:,.0f}" + (f" ± {s:,.0f}" if np.isfinite(s) else "")
                for m, s in zip(throughput["train_sps_mean"], throughput["train_sps_std"], strict=True)
            ],
            "train s/run": throughput["train_seconds_mean"].map(lambda v: num(v, 0)),
            "eval s/run": throughput["eval_seconds_mean"].map(lambda v: num(v, 0)),
            "wall h (total)": throughput["wall_hours"].map(num),
            "CPU h": throughput["cpu_hours"].map(num),
            "GPU h": throughput["gpu_hours"].map(num),
        }
    )
