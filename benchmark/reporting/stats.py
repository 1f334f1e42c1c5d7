"""Normalised scores, aggregate metrics and stratified-bootstrap intervals, compatible with rliable.

Score matrices have shape (runs, tasks): one column per level, one row per seed. Definitions follow rliable
(Agarwal et al., 2021): mean and median are taken over per-task mean scores; IQM (25% trimmed mean) and
optimality gap pool every run of every task. Intervals are percentile intervals of a stratified bootstrap:
runs are resampled with replacement within each task column. Everything is vectorised in numpy and chunked,
so memory stays bounded whatever the number of repetitions.

Rule for holes (NaN = a failed or missing run): a task column keeps only its finite runs. Point estimates use
the finite runs of each column (per-task means over the runs present; pooled metrics over all runs present),
and the bootstrap resamples, within each column, as many runs as that column has, from those runs only. A
column with no finite run at all cannot be resampled and raises ValueError naming it: the caller drops that
task for every architecture and reports it (see `complete_tasks`). Infinite scores raise. For a full matrix
every result equals rliable's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import pandas as pd

from benchmark.reporting.frames import METRICS, check_scores, usable

Aggregate = Callable[[np.ndarray], np.ndarray]
Seed = int | np.random.Generator | None

# Bootstrap samples per chunk are sized so one chunk holds about this many float64 elements (16 MiB).
_CHUNK_ELEMENTS = 1 << 21


class Estimate(NamedTuple):
    """A point estimate with its confidence interval; arrays when the statistic is a vector."""

    point: float | np.ndarray
    lower: float | np.ndarray
    upper: float | np.ndarray


# --- normalisation ---
NORMALISATIONS: tuple[str, ...] = ("reference", "best")


def first_finite(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values[0]) if values.size else float("nan")


def normalization_reference(
    scores: pd.DataFrame, metric: str = "reward_per_agent", normalise: str = "reference"
) -> pd.DataFrame:
    """Per level: the score mapped to 0 (`random`), the one mapped to 1 (`best`), validity.

    `normalise="reference"` (the default): 0 is the random policy and 1 the scripted expert, both from the
    shipped reference file (columns `ref_random_*`, `scripted_*`): a fixed scale, the same in every experiment,
    on which a score above 1 beats the script. `normalise="best"`: 0 is this experiment's random baseline and 1
    the best architecture's mean over seeds (relative to whatever else was run).

    A level cannot be normalised when an anchor is missing or the top anchor does not beat the random one
    (top - random <= 1e-9 * max(1, |random|, |top|)); then `valid` is False, `note` says why, and every
    normalised score of that level is NaN.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if normalise not in NORMALISATIONS:
        raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {normalise!r}")
    scores = check_scores(scores)
    ok = scores[usable(scores)]
    rows = []
    for level in sorted(scores["level"].unique()):
        at = scores["level"] == level
        means = ok[ok["level"] == level].groupby("architecture")[metric].mean()
        best_arch = str(means.idxmax()) if len(means) else ""
        note = ""
        if normalise == "reference":
            random = first_finite(scores.loc[at, f"ref_random_{metric}"].to_numpy(dtype=float))
            best = first_finite(scores.loc[at, f"scripted_{metric}"].to_numpy(dtype=float))
            if not (np.isfinite(random) and np.isfinite(best)):
                note = "no reference score (run `archbench references`)"
            elif best - random <= 1e-9 * max(1.0, abs(random), abs(best)):
                note = "the scripted expert does not beat the random policy"
        else:
            random = first_finite(scores.loc[at, f"random_{metric}"].to_numpy(dtype=float))
            best = float(means.max()) if len(means) else float("nan")
            if not np.isfinite(random):
                note = "no random-policy score"
            elif not np.isfinite(best):
                note = "no successful cell"
            elif best - random <= 1e-9 * max(1.0, abs(random), abs(best)):
                note = "no architecture beat the random policy"
        rows.append(
            {
                "level": level,
                "random": random,
                "best": best,
                "best_architecture": best_arch,
                "valid": note == "",
                "note": note,
            }
        )
    columns = ["level", "random", "best", "best_architecture", "valid", "note"]
    return pd.DataFrame(rows, columns=columns)


def normalize_scores(
    scores: pd.DataFrame, metric: str = "reward_per_agent", normalise: str = "reference"
) -> pd.DataFrame:
    """Copy of `scores` with `normalized` = (score - random) / (best - random), per level (see
    `normalization_reference` for the two scales).

    NaN where the cell is not usable (not a success, or NaN score) or the level cannot be normalised (see
    `normalization_reference`); such levels must be reported, never silently compared.
    """
    reference = normalization_reference(scores, metric, normalise).set_index("level")
    out = check_scores(scores)
    random = out["level"].map(reference["random"]).to_numpy(dtype=float)
    best = out["level"].map(reference["best"]).to_numpy(dtype=float)
    valid = out["level"].map(reference["valid"]).to_numpy(dtype=bool) & usable(out).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        normalized = (out[metric].to_numpy(dtype=float) - random) / (best - random)
    out["normalized"] = np.where(valid, normalized, np.nan)
    return out


def score_matrices(
    frame: pd.DataFrame, levels: Sequence[str] | None = None, value: str = "normalized"
) -> dict[str, np.ndarray]:
    """Architecture -> (seeds, levels) matrix of `value`, NaN where a cell has no value.

    Rows are the architecture's seeds in sorted order (rows with no value at all are dropped); columns follow
    `levels` (default: every level in the frame, sorted).
    """
    columns = sorted(frame["level"].unique()) if levels is None else list(levels)
    matrices: dict[str, np.ndarray] = {}
    for architecture, group in frame.groupby("architecture", sort=True):
        table = group.pivot_table(index="seed", columns="level", values=value, aggfunc="mean", dropna=False)
        matrix = table.reindex(columns=columns).to_numpy(dtype=float)
        matrices[str(architecture)] = matrix[np.isfinite(matrix).any(axis=1)].reshape(-1, len(columns))
    return matrices


def complete_tasks(matrices: Mapping[str, np.ndarray]) -> np.ndarray:
    """Boolean mask of task columns where every architecture has at least one finite run."""
    masks = [np.isfinite(m).any(axis=0) for m in matrices.values()]
    return np.logical_and.reduce(masks) if masks else np.zeros(0, dtype=bool)


# --- aggregates ---
def _task_means(scores: np.ndarray) -> np.ndarray:
    """Mean over the finite runs of each task; (..., runs, tasks) -> (..., tasks)."""
    finite = np.isfinite(scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(finite, scores, 0.0).sum(axis=-2) / finite.sum(axis=-2)


def _pooled(scores: np.ndarray) -> np.ndarray:
    """Flatten the (runs, tasks) axes; (..., runs, tasks) -> (..., runs * tasks)."""
    return scores.reshape(*scores.shape[:-2], scores.shape[-2] * scores.shape[-1])


def _trimmed_mean(values: np.ndarray, proportion: float = 0.25) -> np.ndarray:
    """scipy.stats.trim_mean over the last axis, ignoring NaN; (..., n) -> (...)."""
    ordered = np.sort(values, axis=-1)  # NaN sorts last
    n = np.isfinite(values).sum(axis=-1)
    cut = np.floor(proportion * n).astype(np.int64)
    position = np.arange(values.shape[-1])
    keep = (position >= cut[..., None]) & (position < (n - cut)[..., None])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(keep, ordered, 0.0).sum(axis=-1) / keep.sum(axis=-1)


def iqm(x: np.ndarray | Sequence[float]) -> float:
    """Interquartile mean of all finite values: scipy.stats.trim_mean(x, 0.25, axis=None) as rliable uses."""
    values = np.asarray(x, dtype=float).ravel()
    return float(_trimmed_mean(values[np.isfinite(values)]))


def aggregate_iqm(scores: np.ndarray) -> np.ndarray:
    """IQM pooled over all runs and tasks; (..., runs, tasks) -> (...)."""
    return _trimmed_mean(_pooled(scores))


def aggregate_mean(scores: np.ndarray) -> np.ndarray:
    """Mean over tasks of per-task mean scores; (..., runs, tasks) -> (...)."""
    return _task_means(scores).mean(axis=-1)


def aggregate_median(scores: np.ndarray) -> np.ndarray:
    """Median over tasks of per-task mean scores; (..., runs, tasks) -> (...)."""
    return np.median(_task_means(scores), axis=-1)


def aggregate_optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """gamma minus the mean of min(score, gamma) over all runs and tasks; (..., runs, tasks) -> (...)."""
    pooled = _pooled(scores)
    finite = np.isfinite(pooled)
    clipped = np.where(finite, np.minimum(pooled, gamma), 0.0)
    return gamma - clipped.sum(axis=-1) / finite.sum(axis=-1)


AGGREGATES: Mapping[str, Aggregate] = MappingProxyType(
    {
        "iqm": aggregate_iqm,
        "median": aggregate_median,
        "mean": aggregate_mean,
        "optimality_gap": aggregate_optimality_gap,
    }
)


# --- bootstrap ---
def _prepare(matrix: np.ndarray, name: str = "score matrix") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move each column's finite runs to the top; return (compact, counts per task, hole mask) or raise."""
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (runs, tasks) matrix, got shape {matrix.shape}")
    if np.isinf(matrix).any():
        raise ValueError(f"{name} contains infinite scores")
    finite = np.isfinite(matrix)
    counts = finite.sum(axis=0)
    if (counts == 0).any():
        empty = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"{name} has task columns {empty} without any finite run; drop them for all methods")
    order = np.argsort(~finite, axis=0, kind="stable")
    compact = np.take_along_axis(matrix, order, axis=0)
    holes = np.arange(matrix.shape[0])[:, None] >= counts[None, :]
    return compact, counts, holes


def _resample(
    compact: np.ndarray, counts: np.ndarray, holes: np.ndarray, rng: np.random.Generator, size: int
) -> np.ndarray:
    """`size` stratified resamples: within each task, draw that task's run count from its finite runs."""
    runs, tasks = compact.shape
    rows = rng.integers(0, counts, size=(size, runs, tasks))
    sample = compact[rows, np.arange(tasks)]
    if holes.any():
        sample[:, holes] = np.nan
    return sample


def _bootstrap(
    matrices: Sequence[np.ndarray],
    statistic: Callable[..., np.ndarray],
    reps: int,
    confidence: float,
    seed: Seed,
    elements_per_rep: int,
) -> Estimate:
    """Percentile interval of `statistic` over independent stratified resamples of each matrix."""
    if reps < 1:
        raise ValueError(f"reps must be positive, got {reps}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    prepared = [_prepare(m, f"score matrix {i}") for i, m in enumerate(matrices)]
    point = np.asarray(statistic(*(np.asarray(m, dtype=float) for m in matrices)), dtype=float)
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, elements_per_rep))
    results = np.empty((reps, *point.shape))
    for start in range(0, reps, chunk):
        size = min(chunk, reps - start)
        samples = [_resample(*p, rng, size) for p in prepared]
        results[start : start + size] = statistic(*samples)
    alpha = 100.0 * (1.0 - confidence) / 2.0
    lower, upper = np.percentile(results, [alpha, 100.0 - alpha], axis=0)
    if point.ndim == 0:
        return Estimate(float(point), float(lower), float(upper))
    return Estimate(point, lower, upper)


def stratified_bootstrap_ci(
    score_matrix: np.ndarray,
    aggregate_fn: Aggregate,
    reps: int = 50_000,
    confidence: float = 0.95,
    seed: Seed = 0,
) -> Estimate:
    """Point estimate and percentile CI of `aggregate_fn` under a stratified bootstrap over runs.

    `aggregate_fn` must be vectorised: (..., runs, tasks) -> (...) or (..., k), like the `AGGREGATES`.
    """
    runs, tasks = np.shape(score_matrix)[:2] if np.ndim(score_matrix) == 2 else (0, 0)
    return _bootstrap([score_matrix], aggregate_fn, reps, confidence, seed, runs * tasks)


def interval_estimates(
    matrices: Mapping[str, np.ndarray],
    aggregates: Mapping[str, Aggregate] = AGGREGATES,
    reps: int = 50_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, Estimate]]:
    """method -> aggregate name -> Estimate; every call uses the same seed, so order never matters."""
    return {
        name: {
            agg_name: stratified_bootstrap_ci(matrix, fn, reps, confidence, seed) for agg_name, fn in aggregates.items()
        }
        for name, matrix in matrices.items()
    }


# --- probability of improvement ---
def _improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per task P(X > Y) + 0.5 P(X = Y) over finite run pairs, mean over tasks; batched over leading axes."""
    left, right = x[..., :, None, :], y[..., None, :, :]
    wins = (left > right).sum(axis=(-3, -2)) + 0.5 * (left == right).sum(axis=(-3, -2))
    pairs = np.isfinite(x).sum(axis=-2) * np.isfinite(y).sum(axis=-2)
    return (wins / pairs).mean(axis=-1)


def probability_of_improvement(
    x_matrix: np.ndarray,
    y_matrix: np.ndarray,
    reps: int = 2_000,
    confidence: float = 0.95,
    seed: Seed = 0,
) -> Estimate:
    """Average over tasks of P(X > Y) + 0.5 P(X = Y) (Mann-Whitney U / (n_x n_y)), with a stratified CI.

    X and Y are (runs, tasks) matrices over the same tasks (run counts may differ); each is resampled
    independently within each task, as rliable's StratifiedIndependentBootstrap does.
    """
    x, y = np.asarray(x_matrix, dtype=float), np.asarray(y_matrix, dtype=float)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"X and Y must be (runs, tasks) over the same tasks, got {x.shape} and {y.shape}")
    work = x.shape[0] * y.shape[0] * x.shape[1]
    return _bootstrap([x, y], _improvement, reps, confidence, seed, work)


# --- performance profiles ---
def performance_profile(
    score_matrix: np.ndarray,
    taus: np.ndarray | Sequence[float],
    reps: int = 2_000,
    confidence: float = 0.95,
    seed: Seed = 0,
) -> Estimate:
    """Fraction of all finite runs (pooled over tasks) scoring strictly above each tau, with CI bands."""
    thresholds = np.asarray(taus, dtype=float).ravel()

    def profile(scores: np.ndarray) -> np.ndarray:
        pooled = _pooled(scores)
        above = (pooled[..., :, None] > thresholds).sum(axis=-2)
        return above / np.isfinite(pooled).sum(axis=-1)[..., None]

    matrix = np.asarray(score_matrix, dtype=float)
    return _bootstrap([matrix], profile, reps, confidence, seed, matrix.size * max(1, thresholds.size))
