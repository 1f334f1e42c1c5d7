"""Checks of the three input frames against the contract in `benchmark.reporting`.

Checked once at the edge so the numerics can assume clean columns; errors name every missing column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

METRICS: tuple[str, ...] = ("reward_per_agent", "hearts_per_agent")
KEYS: tuple[str, ...] = ("architecture", "level", "seed")
SCORE_COLUMNS: tuple[str, ...] = (*KEYS, *METRICS, *(f"random_{m}" for m in METRICS))
# the fixed reference scale (benchmark/levels/references.json): optional, NaN when a frame has none
REFERENCE_COLUMNS: tuple[str, ...] = (*(f"ref_random_{m}" for m in METRICS), *(f"scripted_{m}" for m in METRICS))
CURVE_COLUMNS: tuple[str, ...] = (*KEYS, "agent_steps", *METRICS)
THROUGHPUT_COLUMNS: tuple[str, ...] = (
    *KEYS,
    "parameters",
    "train_sps",
    "train_seconds",
    "eval_seconds",
    "device",
)
SUCCESS = "success"


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks columns {missing}; it has {list(frame.columns)}")


def check_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with typed keys and a `status` column (inferred when absent), or raise naming gaps."""
    _require(scores, SCORE_COLUMNS, "scores")
    out = scores.copy()
    out["architecture"] = out["architecture"].astype(str)
    out["level"] = out["level"].astype(str)
    out["seed"] = out["seed"].astype(int)
    for column in REFERENCE_COLUMNS:
        if column not in out.columns:
            out[column] = np.nan
    for column in (*SCORE_COLUMNS[3:], *REFERENCE_COLUMNS):
        out[column] = out[column].astype(float)
    finite = np.isfinite(out[list(METRICS)].to_numpy(dtype=float)).all(axis=1)
    if "status" not in out.columns:
        out["status"] = np.where(finite, SUCCESS, "missing")
    out["status"] = out["status"].fillna("missing").astype(str)
    duplicated = out.duplicated(list(KEYS), keep=False)
    if duplicated.any():
        rows = out.loc[duplicated, list(KEYS)].drop_duplicates().to_dict("records")
        raise ValueError(f"scores frame has duplicate (architecture, level, seed) cells: {rows}")
    return out


def usable(scores: pd.DataFrame) -> pd.Series:
    """Cells that count in statistics: status success and both scores finite."""
    finite = np.isfinite(scores[list(METRICS)].to_numpy(dtype=float)).all(axis=1)
    return (scores["status"] == SUCCESS) & finite


def check_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Return a typed copy of the curves frame, or raise naming the missing columns."""
    _require(curves, CURVE_COLUMNS, "curves")
    out = curves.copy()
    out["architecture"] = out["architecture"].astype(str)
    out["level"] = out["level"].astype(str)
    out["seed"] = out["seed"].astype(int)
    out["agent_steps"] = out["agent_steps"].astype(np.int64)
    for metric in METRICS:
        out[metric] = out[metric].astype(float)
    return out


def check_throughput(throughput: pd.DataFrame) -> pd.DataFrame:
    """Return a typed copy of the throughput frame, or raise naming the missing columns."""
    _require(throughput, THROUGHPUT_COLUMNS, "throughput")
    out = throughput.copy()
    out["architecture"] = out["architecture"].astype(str)
    out["level"] = out["level"].astype(str)
    out["seed"] = out["seed"].astype(int)
    for column in ("parameters", "train_sps", "train_seconds", "eval_seconds"):  # NaN allowed for failed runs
        out[column] = out[column].astype(float)
    out["device"] = out["device"].astype(str)
    return out
