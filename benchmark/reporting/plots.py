"""PNG figures for the report, drawn on bare `matplotlib.figure.Figure`s rendered by Agg.

No pyplot: nothing global (backend, rcParams, figure registry) changes, at import or at call. Each function
takes a table or frame and an output path, writes one PNG and returns its path. Colours follow the sorted
architecture names unless a `colors` mapping is given, so one architecture keeps its colour in every figure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

DPI = 120
_STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
# what 0 and 1 mean on each normalisation (see stats.normalization_reference)
SCALES = {"reference": "0 = random policy, 1 = scripted expert", "best": "0 = random policy, 1 = best architecture"}
AGGREGATE_TITLES = {
    "iqm": "IQM",
    "median": "Median",
    "mean": "Mean",
    "optimality_gap": "Optimality gap (lower is better)",
}


def architecture_colors(names: Sequence[str]) -> dict[str, tuple[float, float, float, float]]:
    """A stable colour per architecture: tab10 over the sorted names (tab20 beyond ten)."""
    ordered = sorted(set(names))
    cmap = matplotlib.colormaps["tab10" if len(ordered) <= 10 else "tab20"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(ordered)}


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    """A Figure drawn under the report style; the style is scoped to this block only."""
    with matplotlib.rc_context(_STYLE):
        yield Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(figure: Figure, path: Path | str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", dpi=DPI)
    return out


def _empty(axes: Axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes, color="0.4")
    axes.set_xticks([])
    axes.set_yticks([])
    axes.spines[:].set_visible(False)


def _interval_limits(ranking: pd.DataFrame, name: str) -> tuple[float, float]:
    """x range covering 0 (random), 1 (best) and every interval, padded, so no bar touches the frame."""
    values = ranking[[name, f"{name}_low", f"{name}_high"]].to_numpy(float)
    finite = np.append(values[np.isfinite(values)], [0.0, 1.0])
    low, high = float(finite.min()), float(finite.max())
    pad = 0.05 * (high - low)
    return low - pad, high + pad


def plot_ranking(
    ranking: pd.DataFrame,
    path: Path | str,
    colors: Mapping[str, object] | None = None,
    confidence: float = 0.95,
    normalise: str = "reference",
) -> Path:
    """One panel per aggregate (IQM, median, mean, optimality gap): point estimate with its CI as a bar."""
    colors = colors or architecture_colors(ranking["architecture"].tolist())
    names = ranking["architecture"].tolist()[::-1]  # best at the top
    rows = ranking.set_index("architecture")
    with _figure(12.0, 1.6 + 0.45 * max(len(names), 1)) as figure:
        axes = figure.subplots(1, len(AGGREGATE_TITLES), sharey=True, squeeze=False)[0]
        for ax, (name, title) in zip(axes, AGGREGATE_TITLES.items(), strict=True):
            for y, arch in enumerate(names):
                point, low, high = (rows.loc[arch, k] for k in (name, f"{name}_low", f"{name}_high"))
                if not np.isfinite(point):
                    ax.text(
                        0.5,
                        y,
                        "no data",
                        ha="center",
                        va="center",
                        color="0.4",
                        fontsize=9,
                        transform=ax.get_yaxis_transform(),
                    )
                    continue
                ax.barh(y, high - low, left=low, height=0.6, color=colors[arch], alpha=0.45)
                ax.plot([point, point], [y - 0.3, y + 0.3], color="black", linewidth=1.6)
            ax.set_xlim(*_interval_limits(ranking, name))
            ax.set_title(title)
            ax.set_yticks(range(len(names)), names)
            ax.set_ylim(-0.6, len(names) - 0.4)
            ax.grid(axis="x", alpha=0.3)
        figure.supxlabel(
            f"normalised score ({SCALES[normalise]}); bars: {confidence:.0%} stratified-bootstrap CI", fontsize=10
        )
        return _save(figure, path)


def plot_level_heatmap(matrix: pd.DataFrame, path: Path | str, normalise: str = "reference") -> Path:
    """Annotated level x architecture heat map of mean normalised score; grey cells have no score."""
    levels, archs = list(matrix.index), list(matrix.columns)
    with _figure(3.0 + 1.25 * max(len(archs), 1), 1.6 + 0.5 * max(len(levels), 1)) as figure:
        ax = figure.subplots()
        if matrix.empty:
            _empty(ax, "no scores")
            return _save(figure, path)
        values = matrix.to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        vmax = max(1.0, float(finite.max())) if finite.size else 1.0
        vmin = min(0.0, float(finite.min())) if finite.size else 0.0
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        for (i, j), value in np.ndenumerate(values):
            text = f"{value:.2f}" if np.isfinite(value) else "n/a"
            dark = np.isfinite(value) and (value - vmin) / (vmax - vmin) < 0.6
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
        ax.set_xticks(range(len(archs)), archs, rotation=20 if len(archs) > 4 else 0, ha="center")
        ax.set_yticks(range(len(levels)), levels)
        ax.set_xlabel("architecture")
        ax.set_ylabel("level")
        ax.set_title(f"Mean normalised score per level\n({SCALES[normalise]})")
        ax.spines[:].set_visible(False)
        figure.colorbar(image, ax=ax, label="normalised score")
        return _save(figure, path)


def interpolate_seeds(group: pd.DataFrame, metric: str, points: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Seeds' curves interpolated onto one step grid spanning every seed's logged range.

    Returns (steps (points,), values (seeds, points)). A seed is NaN outside its own logged range: never
    extrapolated, and a seed that stopped early (a crash) does not truncate the others.
    """
    curves = []
    for _, seed_curve in group.groupby("seed"):
        seed_curve = seed_curve.dropna(subset=[metric]).sort_values("agent_steps")
        seed_curve = seed_curve.drop_duplicates("agent_steps", keep="last")
        if len(seed_curve):
            curves.append((seed_curve["agent_steps"].to_numpy(float), seed_curve[metric].to_numpy(float)))
    if not curves:
        return np.empty(0), np.empty((0, 0))
    start = min(steps[0] for steps, _ in curves)
    stop = max(steps[-1] for steps, _ in curves)
    grid = np.linspace(start, stop, points if stop > start else 1)
    values = [
        np.where((grid >= steps[0]) & (grid <= steps[-1]), np.interp(grid, steps, v), np.nan) for steps, v in curves
    ]
    return grid, np.stack(values)


def _over_seeds(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min, max and count over the seeds present at each grid point (NaN where none is)."""
    present = np.isfinite(values)
    count = present.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(present, values, 0.0).sum(axis=0) / count
    low = np.where(count > 0, np.where(present, values, np.inf).min(axis=0), np.nan)
    high = np.where(count > 0, np.where(present, values, -np.inf).max(axis=0), np.nan)
    return mean, low, high, count


def plot_learning_curves(
    curves: pd.DataFrame,
    path: Path | str,
    metric: str = "reward_per_agent",
    colors: Mapping[str, object] | None = None,
    points: int = 100,
    source: str | None = None,
) -> Path:
    """Per level panel: metric vs agent steps, mean over seeds as a line and the seeds' min-max as a band.

    `source` names where the points come from (default: the training rollouts or episodes)."""
    colors = colors or architecture_colors(curves["architecture"].unique().tolist())
    levels = sorted(curves["level"].unique())
    columns = min(3, max(len(levels), 1))
    rows = -(-max(len(levels), 1) // columns)
    with _figure(max(6.5, 4.3 * columns), 3.3 * rows + 0.8) as figure:
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        label = metric.replace("_", " ")
        for ax, level in zip(axes, levels, strict=False):
            for arch, group in curves[curves["level"] == level].groupby("architecture", sort=True):
                grid, values = interpolate_seeds(group, metric, points)
                if not grid.size:
                    continue
                mean, low, high, count = _over_seeds(values)
                seeds = values.shape[0]
                ax.plot(
                    grid,
                    mean,
                    color=colors[arch],
                    linewidth=1.8,
                    label=f"{arch} ({seeds} seed{'s' if seeds != 1 else ''})",
                )
                if seeds > 1:
                    band = count > 1
                    ax.fill_between(grid, low, high, where=band, color=colors[arch], alpha=0.2, linewidth=0)
            ax.set_title(level)
            ax.set_xlabel("agent steps")
            ax.set_ylabel(label)
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best", frameon=False)
        for ax in axes[len(levels) :]:
            ax.set_visible(False)
        if not levels:
            axes[0].set_visible(True)
            _empty(axes[0], "no learning curves logged")
        if source is None:
            source = "from each update's rollout" if metric == "reward_per_agent" else "finished training episodes"
        figure.suptitle(f"Sample efficiency: {label} ({source})\nline: mean over seeds; band: min-max over seeds")
        return _save(figure, path)


def plot_throughput(
    throughput: pd.DataFrame,
    path: Path | str,
    colors: Mapping[str, object] | None = None,
    log: bool | None = None,
) -> Path:
    """Mean training throughput per architecture (agent-steps/s), error bar = std over runs.

    `log=None` picks a log axis when the fastest is over 20x the slowest.
    """
    table = throughput.dropna(subset=["train_sps_mean"]).sort_values("train_sps_mean")
    colors = colors or architecture_colors(throughput["architecture"].tolist())
    with _figure(8.0, 1.5 + 0.45 * max(len(table), 1)) as figure:
        ax = figure.subplots()
        if table.empty:
            _empty(ax, "no throughput measured")
            return _save(figure, path)
        sps = table["train_sps_mean"].to_numpy(float)
        err = table["train_sps_std"].fillna(0.0).to_numpy(float)
        names = table["architecture"].tolist()
        ax.barh(
            range(len(names)),
            sps,
            xerr=err,
            color=[colors[n] for n in names],
            alpha=0.85,
            error_kw={"elinewidth": 1, "capsize": 3},
        )
        use_log = log if log is not None else sps.max() > 20 * max(sps.min(), 1e-9)
        if use_log:
            ax.set_xscale("log")
        formatter = EngFormatter(places=1, sep="")
        for y, (value, spread) in enumerate(zip(sps, err, strict=True)):
            ax.text(value + spread, y, f"  {formatter.format_data(value)}", va="center", fontsize=9)
        ax.set_yticks(range(len(names)), names)
        ax.set_xlim(right=ax.get_xlim()[1] * (3.0 if use_log else 1.15))
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.set_xlabel("training throughput (agent-steps/s)" + (", log scale" if use_log else ""))
        ax.set_title("Training throughput per architecture (mean over runs, bar: std)")
        ax.grid(axis="x", alpha=0.3)
        return _save(figure, path)


def plot_performance_profile(
    profile: pd.DataFrame,
    path: Path | str,
    colors: Mapping[str, object] | None = None,
    confidence: float = 0.95,
    normalise: str = "reference",
) -> Path:
    """Fraction of runs with normalised score above tau, per architecture, with its CI band."""
    colors = colors or architecture_colors(profile["architecture"].unique().tolist())
    with _figure(6.5, 4.2) as figure:
        ax = figure.subplots()
        if profile.empty:
            _empty(ax, "no comparable levels")
            return _save(figure, path)
        for arch, group in profile.groupby("architecture", sort=True):
            ax.plot(group["tau"], group["fraction"], color=colors[arch], linewidth=1.8, label=arch)
            ax.fill_between(group["tau"], group["low"], group["high"], color=colors[arch], alpha=0.2)
        ax.set_xlabel(f"normalised score threshold \u03c4 ({SCALES[normalise]})")
        ax.set_ylabel("fraction of runs with score > \u03c4")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"Performance profile (band: {confidence:.0%} stratified-bootstrap CI)")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        return _save(figure, path)


def plot_ladder(ladder: pd.DataFrame, path: Path | str, metric: str = "reward_per_agent") -> Path:
    """Per level: the random policy, the best architecture and the scripted expert on the raw metric (log
    scale: the levels' economies differ by orders of magnitude), so a reader sees where learning gets hard."""
    with _figure(7.0, 1.6 + 0.55 * max(len(ladder), 1)) as figure:
        ax = figure.subplots()
        if ladder.empty or not np.isfinite(ladder[["random", "scripted"]].to_numpy(float)).any():
            _empty(ax, "no reference scores")
            return _save(figure, path)
        levels = ladder["level"].tolist()[::-1]
        rows = ladder.set_index("level")
        y = np.arange(len(levels))
        series = (("random", "random policy", "0.6"), ("best_raw", "best architecture", "tab:blue"),
                  ("scripted", "scripted expert", "tab:orange"))  # fmt: skip
        for k, (column, label, color) in enumerate(series):
            values = rows.loc[levels, column].to_numpy(dtype=float)
            ax.barh(y + (k - 1) * 0.27, np.where(np.isfinite(values), values, 0.0), height=0.25, color=color,
                    label=label)  # fmt: skip
        ax.set_yticks(y, levels)
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlabel(f"{metric.replace('_', ' ')} (raw, symmetric log scale)")
        ax.set_title("Difficulty ladder: raw score per level")
        ax.grid(axis="x", alpha=0.3)
        figure.legend(frameon=False, loc="outside lower center", ncol=3)
        return _save(figure, path)
