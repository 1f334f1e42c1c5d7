"""The report's "Behaviour" section: what agents do per episode, per architecture and level (and the random policy),
from the evaluations' MettaGrid episode statistics: resources made, idle steps, wall bumps, cells visited, losses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmark.reporting.markup import Image, Paragraph, Section, Table  # noqa: E402

COLUMNS = {  # column -> (source, key): gained resources and behaviour statistics, per agent per episode
    "ore": ("gained_per_agent", "ore"),
    "batteries": ("gained_per_agent", "battery"),
    "hearts": ("gained_per_agent", "heart"),
    "lasers": ("gained_per_agent", "laser"),
    "armor": ("gained_per_agent", "armor"),
    "idle steps": ("behaviour_per_agent", "idle_steps"),
    "wall bumps": ("behaviour_per_agent", "wall_bumps"),
    "cells visited": ("behaviour_per_agent", "cells_visited"),
    "ore lost": ("behaviour_per_agent", "ore_lost"),
    "batteries lost": ("behaviour_per_agent", "battery_lost"),
    "shots fired": ("behaviour_per_agent", "shots_fired"),
    "batteries stolen": ("behaviour_per_agent", "batteries_stolen"),
}
COMBAT_ONLY = ("shots fired", "batteries stolen")  # averaged over the combat evaluations only (0 elsewhere by rule)
REFERENCE_COLOURS = {"random": "#9e9e9e", "scripted": "#212121"}  # the two yardsticks: grey and black
PLOTTED = ("ore", "batteries", "hearts", "idle steps", "wall bumps", "cells visited")


def _row(who: str, level: str, metrics: dict | None) -> dict[str, Any] | None:
    sims = (metrics or {}).get("simulations") or {}
    if not sims or not any(s.get("behaviour_per_agent") for s in sims.values()):
        return None
    row: dict[str, Any] = {"policy": who, "level": level}
    for column, (source, key) in COLUMNS.items():
        shown = {n: s for n, s in sims.items() if column not in COMBAT_ONLY or "combat" in n}
        values = [v for s in shown.values() if (v := s.get(source, {}).get(key)) is not None]
        row[column] = float(np.mean(values)) if values else np.nan
    return row


def behaviour_frame(ledger: dict[str, Any], scripted: dict[str, dict] | None = None) -> pd.DataFrame:
    """Mean over a cell's seeds (each seed: the mean over the level's evaluations) of every column; `scripted`
    (level -> the scripted expert's evaluation, as `archbench evaluate` wrote it) adds the expert's rows."""
    rows = [
        r
        for run in ledger.get("runs", [])
        if run.get("rung") is None
        and (r := _row(run["architecture"], run["level"], (run.get("evaluation") or {}).get("metrics")))
    ]
    rows += [
        r
        for level, base in sorted((ledger.get("baselines") or {}).items())
        if (r := _row("random", level, (base or {}).get("metrics")))
    ]
    levels = {r["level"] for r in rows}
    rows += [
        r
        for level, result in sorted((scripted or {}).items())
        if level in levels and (r := _row("scripted", level, result))
    ]
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    return frame.groupby(["level", "policy"], sort=True).mean(numeric_only=True).reset_index()


def plot_behaviour(frame: pd.DataFrame, path: Path) -> Path:
    """Small multiples: one panel per statistic, levels on x, a bar per policy."""
    levels = sorted(frame["level"].unique())
    policies = sorted(frame["policy"].unique(), key=lambda p: (p in ("random", "scripted"), p))
    fig, axes = plt.subplots(2, 3, figsize=(12, 6), squeeze=False)
    width = 0.8 / max(len(policies), 1)
    palette = plt.get_cmap("tab20").colors  # 20 distinct colours: the default cycle repeats after 10
    colours = {p: palette[i % len(palette)] for i, p in enumerate(x for x in policies if x not in REFERENCE_COLOURS)}
    colours |= REFERENCE_COLOURS
    x = np.arange(len(levels))
    for ax, column in zip(axes.flat, PLOTTED, strict=True):
        for i, policy in enumerate(policies):
            sub = frame[frame["policy"] == policy].set_index("level").reindex(levels)
            ax.bar(x + i * width - 0.4 + width / 2, sub[column].to_numpy(), width, label=policy, color=colours[policy])
        ax.set_title(f"{column} per agent per episode", fontsize=9)
        ax.set_xticks(x, [lv.removeprefix("level_") for lv in levels], fontsize=7, rotation=20)
        ax.tick_params(axis="y", labelsize=7)
    handles, labels = axes.flat[0].get_legend_handles_labels()  # one legend beside the panels: never over a bar
    fig.legend(handles, labels, loc="center right", fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0, 0.87, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def behaviour_section(ledger: dict[str, Any], figures: Path, scripted: dict[str, dict] | None = None) -> Section | None:
    frame = behaviour_frame(ledger, scripted)
    if frame.empty:
        return None
    shown = frame.copy()
    for column in COLUMNS:
        shown[column] = shown[column].map(lambda v: "-" if pd.isna(v) else f"{v:.1f}")
    return Section(
        "Behaviour",
        (
            Paragraph(
                "What agents do per episode, per agent, on the evaluation episodes (MettaGrid's episode statistics; "
                "the mean over a cell's seeds and the level's evaluations; the random policy's and, where the report "
                "played it, the scripted expert's episodes beside them): resources gained, idle steps (no-op), "
                "wall bumps (failed moves, MettaGrid's `action.move.failed`), distinct cells visited, ore and "
                "batteries lost (spent at a building, or stolen), and on the combat evaluations shots fired (bumps "
                "into another agent with a laser in hand) and batteries stolen by them (a shot the target's armor "
                "did not absorb); '-' where a level has no combat evaluation."
            ),
            Table(shown[["level", "policy", *COLUMNS]], "behaviour per agent per episode"),
            Image(plot_behaviour(frame, figures / "behaviour.png"), "Behaviour per agent per episode"),
        ),
    )
