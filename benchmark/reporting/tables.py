"""Report tables as pandas DataFrames, built from the contract frames (see `benchmark.reporting`).

Table functions take the `normalized` frame (`stats.normalize_scores` output) so normalisation happens once.
Aggregates over levels use only the levels every architecture can be compared on (`analysis_levels`); the
others are listed with a reason, and every cell that is not a success appears in `completeness_table`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.reporting import stats
from benchmark.reporting.frames import KEYS, METRICS, SUCCESS, check_scores, check_throughput, usable

AGGREGATE_NAMES: tuple[str, ...] = tuple(stats.AGGREGATES)


def analysis_levels(normalized: pd.DataFrame, reference: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """Levels that enter aggregates (normalisable, >= 1 scored seed for every architecture) and the rest."""
    architectures = sorted(normalized["architecture"].unique())
    scored = normalized[np.isfinite(normalized["normalized"])]
    used, excluded = [], []
    for row in reference.itertuples():
        present = set(scored.loc[scored["level"] == row.level, "architecture"])
        lacking = [a for a in architectures if a not in present]
        if not row.valid:
            excluded.append({"level": row.level, "reason": f"not normalisable: {row.note}"})
        elif lacking:
            excluded.append({"level": row.level, "reason": f"no successful seed for {', '.join(lacking)}"})
        else:
            used.append(str(row.level))
    return used, pd.DataFrame(excluded, columns=["level", "reason"])


def ranking_table(
    normalized: pd.DataFrame,
    levels: Sequence[str],
    reps: int = 50_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Per architecture: IQM, median, mean, optimality gap of normalised score with CIs, and raw means.

    Sorted by IQM (best first). With no comparable level the statistics are NaN but every architecture is
    still listed. Raw reward and hearts per agent are means over all successful cells, all levels.
    """
    matrices = stats.score_matrices(normalized, levels) if levels else {}
    ok = normalized[usable(normalized)]
    rows = []
    for architecture in sorted(normalized["architecture"].unique()):
        row: dict[str, object] = {"architecture": architecture}
        matrix = matrices.get(architecture, np.empty((0, len(levels))))
        row["runs"] = int(np.isfinite(matrix).sum())
        row["levels"] = len(levels)
        for name, fn in stats.AGGREGATES.items():
            estimate = (
                stats.stratified_bootstrap_ci(matrix, fn, reps, confidence, seed)
                if matrix.size
                else stats.Estimate(np.nan, np.nan, np.nan)
            )
            row.update({name: estimate.point, f"{name}_low": estimate.lower, f"{name}_high": estimate.upper})
        mine = ok[ok["architecture"] == architecture]
        for metric in METRICS:
            row[metric] = float(mine[metric].mean()) if len(mine) else np.nan
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("iqm", ascending=False, na_position="last", kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def level_raw_table(normalized: pd.DataFrame) -> pd.DataFrame:
    """Per (level, architecture): seeds scored / total, mean and std of raw metrics, random baseline."""
    frame = normalized.assign(_ok=usable(normalized))
    rows = []
    for (level, architecture), group in frame.groupby(["level", "architecture"], sort=True):
        ok = group[group["_ok"]]
        row: dict[str, object] = {
            "level": level,
            "architecture": architecture,
            "seeds_ok": len(ok),
            "seeds": len(group),
        }
        for metric in METRICS:
            row[f"{metric}_mean"] = ok[metric].mean()
            row[f"{metric}_std"] = ok[metric].std(ddof=1) if len(ok) > 1 else np.nan
            randoms = group[f"random_{metric}"].dropna()
            row[f"random_{metric}"] = randoms.iloc[0] if len(randoms) else np.nan
        row["normalized_mean"] = ok["normalized"].mean()
        rows.append(row)
    return pd.DataFrame(rows)


def level_matrix(normalized: pd.DataFrame) -> pd.DataFrame:
    """Level x architecture mean normalised score over scored seeds (NaN where none)."""
    table = normalized.pivot_table(
        index="level", columns="architecture", values="normalized", aggfunc="mean", dropna=False
    )
    levels = sorted(normalized["level"].unique())
    architectures = sorted(normalized["architecture"].unique())
    table = table.reindex(index=levels, columns=architectures)
    return table.rename_axis(index="level", columns="architecture")


def improvement_table(
    normalized: pd.DataFrame,
    levels: Sequence[str],
    reps: int = 2_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """P(X > Y) with CI for every ordered pair of architectures, over the comparable levels."""
    columns = ["x", "y", "probability", "low", "high"]
    if not levels:
        return pd.DataFrame(columns=columns)
    matrices = stats.score_matrices(normalized, levels)
    rows = []
    for x, x_matrix in matrices.items():
        for y, y_matrix in matrices.items():
            if x != y:
                estimate = stats.probability_of_improvement(x_matrix, y_matrix, reps, confidence, seed)
                rows.append([x, y, estimate.point, estimate.lower, estimate.upper])
    return pd.DataFrame(rows, columns=columns)


def improvement_matrix(improvement: pd.DataFrame) -> pd.DataFrame:
    """Rows X, columns Y, cells P(X > Y); the diagonal is NaN."""
    if improvement.empty:
        return pd.DataFrame()
    names = sorted(set(improvement["x"]) | set(improvement["y"]))
    table = improvement.pivot(index="x", columns="y", values="probability")
    return table.reindex(index=names, columns=names)


def profile_table(
    normalized: pd.DataFrame,
    levels: Sequence[str],
    taus: np.ndarray | None = None,
    reps: int = 2_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Performance profile: per architecture and tau, the fraction of runs above tau with CI band.

    Default taus: 201 points from min(0, lowest score) to max(1.25, highest score) on the compared levels.
    """
    columns = ["architecture", "tau", "fraction", "low", "high"]
    if not levels:
        return pd.DataFrame(columns=columns)
    if taus is None:
        values = normalized.loc[normalized["level"].isin(levels), "normalized"].to_numpy(float)
        values = np.append(values[np.isfinite(values)], [0.0, 1.25])
        taus = np.linspace(values.min(), values.max(), 201)
    parts = []
    for architecture, matrix in stats.score_matrices(normalized, levels).items():
        estimate = stats.performance_profile(matrix, taus, reps, confidence, seed)
        parts.append(
            pd.DataFrame(
                {
                    "architecture": architecture,
                    "tau": taus,
                    "fraction": estimate.point,
                    "low": estimate.lower,
                    "high": estimate.upper,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def throughput_table(throughput: pd.DataFrame) -> pd.DataFrame:
    """Per architecture: parameters, train SPS, wall time, and CPU / GPU hours (run seconds / 3600 by device).

    `parameters` is the largest count over runs (`parameters_vary` flags architectures whose size changes
    with the level). Hours count training plus evaluation of every run, failed ones included.
    """
    columns = [
        "architecture",
        "runs",
        "parameters",
        "parameters_vary",
        "train_sps_mean",
        "train_sps_std",
        "train_seconds_mean",
        "eval_seconds_mean",
        "wall_hours",
        "cpu_hours",
        "gpu_hours",
    ]
    rows = []
    for architecture, group in throughput.groupby("architecture", sort=True):
        seconds = group["train_seconds"].fillna(0.0) + group["eval_seconds"].fillna(0.0)
        device = group["device"].str.lower()
        params = group["parameters"].dropna()
        rows.append(
            {
                "architecture": architecture,
                "runs": len(group),
                "parameters": int(params.max()) if len(params) else np.nan,
                "parameters_vary": bool(params.nunique() > 1),
                "train_sps_mean": group["train_sps"].mean(),
                "train_sps_std": group["train_sps"].std(ddof=1) if len(group) > 1 else np.nan,
                "train_seconds_mean": group["train_seconds"].mean(),
                "eval_seconds_mean": group["eval_seconds"].mean(),
                "wall_hours": seconds.sum() / 3600.0,
                "cpu_hours": seconds[device == "cpu"].sum() / 3600.0,
                "gpu_hours": seconds[device.str.startswith("cuda")].sum() / 3600.0,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def completeness_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Every cell of the architecture x level x seed grid that is not a usable success, with why.

    The grid is the product of every architecture, level and seed in the frame; a combination without a row
    is reported as "absent".
    """
    grid = pd.MultiIndex.from_product([sorted(scores[k].unique()) for k in KEYS], names=list(KEYS)).to_frame(
        index=False
    )
    merged = grid.merge(scores.assign(usable_cell=usable(scores)), on=list(KEYS), how="left")
    rows = []
    for row in merged.itertuples(index=False):
        if isinstance(row.status, str) and row.usable_cell:
            continue
        if not isinstance(row.status, str):
            status, note = "absent", "no row in the scores frame"
        elif row.status == SUCCESS:
            status, note = row.status, "status success but a score is NaN"
        else:
            status, note = row.status, "run did not produce a score"
        rows.append(
            {
                "architecture": row.architecture,
                "level": row.level,
                "seed": row.seed,
                "status": status,
                "note": note,
            }
        )
    return pd.DataFrame(rows, columns=[*KEYS, "status", "note"])


def build_tables(
    scores: pd.DataFrame,
    throughput: pd.DataFrame,
    metric: str = "reward_per_agent",
    reps: int = 50_000,
    poi_reps: int = 2_000,
    confidence: float = 0.95,
    seed: int = 0,
    normalise: str = "reference",
) -> dict[str, pd.DataFrame]:
    """Every report table, keyed by the CSV name it is written under."""
    scores = check_scores(scores)
    reference = stats.normalization_reference(scores, metric, normalise)
    normalized = stats.normalize_scores(scores, metric, normalise)
    levels, excluded = analysis_levels(normalized, reference)
    improvement = improvement_table(normalized, levels, poi_reps, confidence, seed)
    return {
        "ranking": ranking_table(normalized, levels, reps, confidence, seed),
        "level_matrix": level_matrix(normalized),
        "level_raw": level_raw_table(normalized),
        "normalization": reference,
        "ladder": ladder_table(normalized, metric),
        "excluded_levels": excluded,
        "improvement": improvement,
        "improvement_matrix": improvement_matrix(improvement),
        "profile": profile_table(normalized, levels, None, poi_reps, confidence, seed),
        "throughput": throughput_table(check_throughput(throughput)),
        "completeness": completeness_table(scores),
        "normalized_scores": normalized,
    }


def ladder_table(normalized: pd.DataFrame, metric: str = "reward_per_agent") -> pd.DataFrame:
    """Per level (in order): the reference random and scripted scores, their ratio, and the best architecture by
    mean normalised score: where learning gets hard, at a glance."""
    rows = []
    for level in sorted(normalized["level"].unique()):
        at = normalized[normalized["level"] == level]
        random = stats.first_finite(at[f"ref_random_{metric}"].to_numpy(dtype=float))
        scripted = stats.first_finite(at[f"scripted_{metric}"].to_numpy(dtype=float))
        means = at[np.isfinite(at["normalized"])].groupby("architecture")["normalized"].mean()
        best = str(means.idxmax()) if len(means) else ""
        rows.append(
            {
                "level": level,
                "random": random,
                "scripted": scripted,
                "scripted_over_random": scripted / random if random > 0 else np.nan,
                "best_architecture": best,
                "best_normalized": float(means.max()) if len(means) else np.nan,
                "best_raw": float(at.loc[at["architecture"] == best, metric].mean()) if best else np.nan,
            }
        )
    columns = ["level", "random", "scripted", "scripted_over_random", "best_architecture", "best_normalized"]
    return pd.DataFrame(rows, columns=[*columns, "best_raw"])


def write_csvs(tables: Mapping[str, pd.DataFrame], directory: Path | str) -> list[Path]:
    """Write each table as `<name>.csv` (index kept only where it carries labels); return the paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in tables.items():
        path = out / f"{name}.csv"
        table.to_csv(path, index=not isinstance(table.index, pd.RangeIndex))
        paths.append(path)
    return paths
