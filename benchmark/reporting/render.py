"""The report: CSV tables, PNG figures, report.md, a self-contained report.html and marl-eval JSON.

`write_report` never drops a failed cell and never crashes on a thin grid: one architecture, one seed or no
successful cell at all each render, with a note saying what cannot be concluded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.reporting import plots
from benchmark.reporting.decisions import adaptive_section, screening_section
from benchmark.reporting.displays import (
    ci,
    improvement_display,
    ladder_display,
    level_raw_display,
    num,
    ranking_display,
    throughput_display,
)
from benchmark.reporting.frames import METRICS, check_curves, check_scores, check_throughput, usable
from benchmark.reporting.markup import Bullets, Image, Paragraph, Section, Table, to_html, to_markdown
from benchmark.reporting.tables import build_tables, write_csvs

SECTION_TITLES: tuple[str, ...] = (
    "Summary and ranking",
    "Per-level scores",
    "Difficulty ladder",
    "Probability of improvement",
    "Learning curves",
    "Throughput and cost",
    "Grid completeness",
    "Method notes",
)


# --- marl-eval ---
def marl_eval_json(scores: pd.DataFrame, curves: pd.DataFrame, metrics: tuple[str, ...] = METRICS) -> dict[str, Any]:
    """marl-eval raw-data layout: "mettagrid" -> level -> architecture -> run_k -> step_i / absolute_metrics.

    step_i = {"step_count": agent steps, metric: [value]} from the training curve; absolute_metrics holds the
    final evaluation score, each as a one-element list (the evaluation mean). Only successful cells become
    runs (run_0.. in seed order), so a hole shows as fewer runs (an empty dict when none succeeded);
    marl-eval refuses unequal run counts, which is the point: complete the grid or report its holes.
    """
    scores, curves = check_scores(scores), check_curves(curves)
    ok = scores[usable(scores)]
    data: dict[str, Any] = {}
    for level in sorted(scores["level"].unique()):
        data[level] = {}
        for architecture in sorted(scores["architecture"].unique()):
            runs: dict[str, Any] = {}
            cells = ok[(ok["level"] == level) & (ok["architecture"] == architecture)].sort_values("seed")
            for k, cell in enumerate(cells.itertuples(index=False)):
                curve = curves[
                    (curves["level"] == level)
                    & (curves["architecture"] == architecture)
                    & (curves["seed"] == cell.seed)
                ].sort_values("agent_steps")
                curve = curve[np.isfinite(curve[list(metrics)].to_numpy(float)).all(axis=1)]
                run: dict[str, Any] = {
                    f"step_{i}": {"step_count": int(point.agent_steps)}
                    | {m: [float(getattr(point, m))] for m in metrics}
                    for i, point in enumerate(curve.itertuples(index=False))
                }
                run["absolute_metrics"] = {m: [float(getattr(cell, m))] for m in metrics}
                runs[f"run_{k}"] = run
            data[level][architecture] = runs
    return {"mettagrid": data}


# --- report ---
def _notes(scores: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """Plain statements of what the data cannot support, shown at the top of the report."""
    notes = []
    ok = scores[usable(scores)]
    architectures = scores["architecture"].nunique()
    if ok.empty:
        notes.append("No cell succeeded: there are no scores to compare; see Grid completeness.")
    if architectures == 1:
        notes.append("Only one architecture: nothing to rank against; probability of improvement is empty.")
    seeds_per_cell = ok.groupby(["architecture", "level"])["seed"].nunique()
    if len(seeds_per_cell) and seeds_per_cell.max() == 1:
        notes.append("One seed per cell: bootstrap intervals collapse to the point and mean nothing.")
    for row in tables["excluded_levels"].itertuples(index=False):
        notes.append(f"Level `{row.level}` is left out of aggregates: {row.reason}.")
    failed = len(tables["completeness"])
    if failed:
        notes.append(f"{failed} grid cell(s) have no score; they are listed under Grid completeness.")
    return notes


def _normalisation_note(metric: str, normalise: str, references: str) -> str:
    if normalise == "reference":
        return (
            f"Normalisation (metric `{metric}`, the default `--normalise reference`): per level and evaluation, 0 "
            "is the uniform-random policy and 1 the scripted expert, both measured on the fixed evaluation "
            f"episodes and shipped with the package ({references}). The scale is fixed, so experiments run at "
            "different times (with the same reference file) are comparable, a grid of one architecture is "
            "ranked, and a score above 1 beats the script. `archbench report X --normalise best` shows the "
            "scale relative to this grid instead."
        )
    return (
        f"Normalisation (metric `{metric}`, `--normalise best`): per level, 0 is the uniform-random policy's "
        "score on the same evaluation episodes and 1 is the best architecture's mean over seeds, so scores are "
        "relative to this grid only; a level where no architecture beats random (or with no random score) is "
        "not normalised and is left out. The default scale (`--normalise reference`) is fixed across experiments."
    )


def _method_notes(
    metric: str, confidence: float, reps: int, poi_reps: int, runs: str, levels: str, normalise: str, references: str
) -> tuple[str, ...]:
    """How the numbers were made, in words, with the counts a reader needs to judge them."""
    return (
        _normalisation_note(metric, normalise, references),
        "Aggregates follow rliable: IQM (25% trimmed mean) and optimality gap (gamma = 1) pool all runs of "
        "all levels; median and mean are taken over per-level mean scores.",
        f"Confidence intervals: {confidence:.0%} percentile intervals of a stratified bootstrap (seeds "
        f"resampled with replacement within each level), {reps:,} repetitions for aggregates and "
        f"{poi_reps:,} for probability of improvement and performance profiles; the bootstrap seed is fixed, "
        "so the report is reproducible.",
        "Holes: a failed or missing seed is left out of its level and the bootstrap resamples only the seeds "
        "that level has; a level with no scored seed for some architecture is left out of every aggregate "
        "and listed under Grid completeness.",
        f"Runs entering the aggregates per architecture: {runs}; levels: {levels}.",
    )


def _headline(ranking: pd.DataFrame, metric: str, levels: int) -> str:
    """The leader by IQM and whether its interval separates it from the runner-up."""
    if not len(ranking) or not np.isfinite(ranking["iqm"].iloc[0]):
        return "No architecture could be ranked."

    def interval(row: pd.Series) -> str:
        return f"**{row['architecture']}** with IQM {ci(row['iqm'], row['iqm_low'], row['iqm_high'])}"

    top = ranking.iloc[0]
    text = f"Best by IQM of normalised {metric.replace('_', ' ')} over {levels} level(s): {interval(top)}."
    if ranking["iqm"].iloc[0] > 1:
        text += " Above 1 on the reference scale: better than the scripted expert."
    if len(ranking) > 1 and np.isfinite(ranking["iqm"].iloc[1]):
        second = ranking.iloc[1]
        verdict = (
            "the intervals overlap, so these data do not separate the two"
            if second["iqm_high"] >= top["iqm_low"]
            else "the intervals do not overlap"
        )
        text += f" Runner-up: {interval(second)}; {verdict}."
    return text


def _sections(
    scores: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    figures: Mapping[str, Path],
    meta: Mapping[str, object],
    metric: str,
    reps: int,
    poi_reps: int,
    confidence: float,
    normalise: str,
    adaptive: bool = False,
) -> list[Section]:
    ranking, completeness = tables["ranking"], tables["completeness"]
    ok = scores[usable(scores)]
    grid = scores["architecture"].nunique() * scores["level"].nunique() * scores["seed"].nunique()
    if adaptive:  # the grid is the seeds the adaptive mode asked for, cell by cell
        grid = len(scores)
    used = [str(v) for v in tables["normalization"]["level"] if v not in set(tables["excluded_levels"]["level"])]
    notes = _notes(scores, tables)
    summary: list = [
        Table(pd.DataFrame({"item": list(meta), "value": [str(v) for v in meta.values()]}), "Run metadata"),
        Paragraph(_headline(ranking, metric, len(used))),
        Paragraph(f"{len(ok)} of {grid} grid cells scored ({len(completeness)} without a score)."),
    ]
    summary += [Bullets(tuple(notes))] if notes else []
    summary += [
        Table(ranking_display(ranking), f"Normalised score, {confidence:.0%} CIs; raw means over cells"),
        Image(figures["ranking"], "Aggregate normalised scores with confidence intervals"),
        Image(figures["profile"], "Performance profiles"),
    ]
    level_matrix = tables["level_matrix"].reset_index().rename_axis(columns=None)
    level_matrix = level_matrix.rename(columns={"level": "level \\ architecture"})
    per_level = [
        Image(figures["level_heatmap"], "Mean normalised score per level and architecture"),
        Table(level_matrix.map(lambda v: v if isinstance(v, str) else num(v)), "Mean normalised score"),
        Table(level_raw_display(tables["level_raw"]), "Raw scores per level (successful seeds only)"),
    ]
    poi = [
        Paragraph(
            "Probability that a run of the row architecture beats a run of the column architecture on a "
            "level (ties count half), averaged over the compared levels, with "
            f"{confidence:.0%} stratified-bootstrap CIs ({poi_reps:,} reps). Values above 0.5 whose interval "
            "excludes 0.5 indicate a reliable improvement."
        ),
        Table(improvement_display(tables["improvement"])),
    ]
    ladder = [
        Paragraph(
            f"Per level, raw {metric.replace('_', ' ')}: the random policy and the scripted expert (the reference "
            "file) and the best architecture of this grid, by mean normalised score."
        ),
        Table(ladder_display(tables["ladder"])),
        Image(figures["ladder"], "Difficulty ladder"),
    ]
    curves = [
        Paragraph(
            "Reward per agent is estimated at every update from its rollout: the mean step reward times the "
            "episode length (staggered episode starts spread the rows over the episode). A run's first points "
            "over-count rewards that come early in an episode (a level's starting stock) until the staggered "
            "starts have spread out, one episode length into the run. Hearts come from finished episodes only."
        ),
        Image(figures["learning_curves"], "Learning curves"),
    ]
    cost = [
        Paragraph("Hours are (train + eval seconds) / 3600 summed over every run, failed runs included."),
        Table(throughput_display(tables["throughput"])),
        Image(figures["throughput"], "Training throughput"),
    ]
    completeness_blocks: list = [
        Paragraph(
            "Every cell of the architecture x level x seed grid without a usable score is listed here."
            if len(completeness)
            else "Every cell of the grid succeeded."
        )
    ]
    completeness_blocks += [Table(completeness)] if len(completeness) else []
    completeness_blocks += [Table(tables["excluded_levels"], "Levels left out of aggregates")]
    runs = ", ".join(f"{r.architecture}: {r.runs}" for r in ranking.itertuples(index=False))
    method = [
        Bullets(
            _method_notes(
                metric,
                confidence,
                reps,
                poi_reps,
                runs or "none",
                ", ".join(used) or "none",
                normalise,
                str(meta.get("reference scores", "reference file not recorded")),
            )
        ),
        Table(
            tables["normalization"].map(lambda v: num(v, 3) if isinstance(v, float) else v),
            "Normalisation reference per level (raw metric values)",
        ),
    ]
    blocks = [summary, per_level, ladder, poi, curves, cost, completeness_blocks, method]
    return [Section(title, tuple(b)) for title, b in zip(SECTION_TITLES, blocks, strict=True)]


def write_report(
    scores: pd.DataFrame,
    curves: pd.DataFrame,
    throughput: pd.DataFrame,
    out_dir: Path | str,
    title: str,
    meta: Mapping[str, object],
    metric: str = "reward_per_agent",
    reps: int = 50_000,
    poi_reps: int = 2_000,
    confidence: float = 0.95,
    seed: int = 0,
    normalise: str = "reference",
    adaptive: Mapping[str, Any] | None = None,
    screening: Mapping[str, Any] | None = None,
    eval_curves: pd.DataFrame | None = None,
    extra: tuple[Section, ...] = (),
) -> dict[str, Path]:
    """Write tables/*.csv, figures/*.png, report.md, report.html and marl_eval.json; return them by name.

    `adaptive` / `screening`: the ledger's records of an `--adaptive` / `--screen` experiment; their decisions
    get a section of their own. `eval_curves`: evaluation scores along training (`--interim-evals`). `extra`: sections
    placed after the learning curves (the animated episodes, the behaviour table)."""
    out = Path(out_dir)
    scores, curves, throughput = check_scores(scores), check_curves(curves), check_throughput(throughput)
    tables = build_tables(scores, throughput, metric, reps, poi_reps, confidence, seed, normalise)
    if adaptive:  # seeds the adaptive mode never asked for are absent by design, not missing
        tables["completeness"] = tables["completeness"][tables["completeness"]["status"] != "absent"]
    paths = {f"tables/{p.name}": p for p in write_csvs(tables, out / "tables")}
    colors = plots.architecture_colors([*scores["architecture"], *curves["architecture"], *throughput["architecture"]])
    fig = out / "figures"
    figures = {
        "ranking": plots.plot_ranking(tables["ranking"], fig / "ranking.png", colors, confidence, normalise),
        "profile": plots.plot_performance_profile(
            tables["profile"], fig / "profile.png", colors, confidence, normalise
        ),
        "level_heatmap": plots.plot_level_heatmap(tables["level_matrix"], fig / "level_heatmap.png", normalise),
        "ladder": plots.plot_ladder(tables["ladder"], fig / "ladder.png", metric),
        "learning_curves": plots.plot_learning_curves(curves, fig / "learning_curves.png", metric, colors),
        "throughput": plots.plot_throughput(tables["throughput"], fig / "throughput.png", colors),
    }
    interim = eval_curves is not None and eval_curves.groupby(["architecture", "level", "seed"]).size().max() > 1
    if interim:
        figures["eval_curves"] = plots.plot_learning_curves(
            check_curves(eval_curves),
            fig / "eval_curves.png",
            metric,
            colors,
            source="evaluation episodes at checkpoints along training",
        )
    paths |= {f"figures/{p.name}": p for p in figures.values()}
    sections = _sections(
        scores, tables, figures, meta, metric, reps, poi_reps, confidence, normalise, adaptive=bool(adaptive)
    )
    if interim:
        at = SECTION_TITLES.index("Learning curves")
        sections[at] = Section(
            sections[at].title,
            (
                *sections[at].blocks,
                Paragraph(
                    "Evaluated along training (`--interim-evals`): each run's checkpoints at fractions of its budget, "
                    "on a quarter of the evaluation episodes (the final point: the full evaluation), the same "
                    "fixed episodes for every policy."
                ),
                Image(figures["eval_curves"], "Sample efficiency on evaluation episodes"),
            ),
        )
    at = SECTION_TITLES.index("Learning curves") + 1  # episodes and behaviour (reporting.episodes, .behaviour)
    sections[at:at] = list(extra)
    after = SECTION_TITLES.index("Probability of improvement") + 1
    if screening:
        sections.insert(after, screening_section(screening))
    if adaptive:
        sections.insert(after, adaptive_section(adaptive))
    paths["report.md"] = out / "report.md"
    paths["report.md"].write_text(to_markdown(title, sections, out), encoding="utf-8")
    paths["report.html"] = out / "report.html"
    paths["report.html"].write_text(to_html(title, sections), encoding="utf-8")
    paths["marl_eval.json"] = out / "marl_eval.json"
    paths["marl_eval.json"].write_text(json.dumps(marl_eval_json(scores, curves), indent=1), encoding="utf-8")
    return paths
