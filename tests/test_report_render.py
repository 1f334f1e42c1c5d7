"""End-to-end rendering of the report from small synthetic frames, including the thin-grid edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.reporting import tables
from benchmark.reporting.frames import check_scores
from benchmark.reporting.render import SECTION_TITLES, marl_eval_json, write_report

REPS = 1_000  # the statistics are tested in test_stats.py; here only the plumbing
ARCHS = ("lstm", "transformer")
LEVELS = ("arena", "maze")
SEEDS = (0, 1)
FAILED = ("transformer", "maze", 1)


def _frames(
    archs: tuple[str, ...] = ARCHS,
    levels: tuple[str, ...] = LEVELS,
    seeds: tuple[int, ...] = SEEDS,
    failed: tuple[tuple[str, str, int], ...] = (FAILED,),
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Scores, curves and throughput for a small grid; `failed` cells have NaN scores and a short curve."""
    rng = np.random.default_rng(0)
    scores, curves, throughput = [], [], []
    for a, arch in enumerate(archs):
        for level in levels:
            for seed in seeds:
                bad = (arch, level, seed) in failed
                skill = 0.5 + 0.4 * a
                reward = np.nan if bad else skill + rng.normal(0.0, 0.05)
                scores.append(
                    {
                        "architecture": arch,
                        "level": level,
                        "seed": seed,
                        "reward_per_agent": reward,
                        "hearts_per_agent": np.nan if bad else 2 * reward,
                        "random_reward_per_agent": 0.05,
                        "random_hearts_per_agent": 0.0,
                        "ref_random_reward_per_agent": 0.05,
                        "ref_random_hearts_per_agent": 0.0,
                        "scripted_reward_per_agent": 1.5,
                        "scripted_hearts_per_agent": 3.0,
                        "status": "failed" if bad else "success",
                    }
                )
                steps = np.linspace(0, 300_000 if bad else 1_000_000, 30).astype(int)
                for step in steps:
                    value = skill * (1 - np.exp(-step / 2e5)) + rng.normal(0.0, 0.03)
                    curves.append(
                        {
                            "architecture": arch,
                            "level": level,
                            "seed": seed,
                            "agent_steps": step,
                            "reward_per_agent": value,
                            "hearts_per_agent": 2 * value,
                        }
                    )
                throughput.append(
                    {
                        "architecture": arch,
                        "level": level,
                        "seed": seed,
                        "parameters": 120_000 * (a + 1),
                        "train_sps": 30_000.0 / (a + 1) * rng.uniform(0.9, 1.1),
                        "train_seconds": 40.0,
                        "eval_seconds": 5.0,
                        "device": "cuda" if a else "cpu",
                    }
                )
    return pd.DataFrame(scores), pd.DataFrame(curves), pd.DataFrame(throughput)


def _write(tmp_path: Path, frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> dict[str, Path]:
    return write_report(*frames, tmp_path, "archbench test", {"commit": "abc123"}, reps=REPS, poi_reps=200)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _write(tmp_path_factory.mktemp("report"), _frames())


def test_every_file_exists(report: dict[str, Path]) -> None:
    for name in (
        "report.md",
        "report.html",
        "marl_eval.json",
        "tables/ranking.csv",
        "tables/completeness.csv",
    ):
        assert name in report
    for path in report.values():
        assert path.is_file() and path.stat().st_size > 0, path
    assert {p.name for p in report.values() if p.suffix == ".png"} == {
        "ranking.png",
        "profile.png",
        "level_heatmap.png",
        "learning_curves.png",
        "throughput.png",
        "ladder.png",
    }


def test_pngs_are_non_trivial(report: dict[str, Path]) -> None:
    for path in report.values():
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert path.stat().st_size > 10_000, path


def test_markdown_has_every_section_and_the_failed_cell(report: dict[str, Path]) -> None:
    markdown = report["report.md"].read_text()
    for title in SECTION_TITLES:
        assert f"\n## {title}\n" in markdown
    completeness = markdown.split("## Grid completeness")[1].split("\n## ")[0]
    assert "| transformer | maze | 1 | failed |" in completeness
    assert "50,000" not in markdown and f"{REPS:,} repetitions" in markdown  # the reps actually used
    assert "![" in markdown and "figures/ranking.png" in markdown


def test_html_is_self_contained(report: dict[str, Path]) -> None:
    page = report["report.html"].read_text()
    assert page.count("data:image/png;base64,") == 6
    assert "figures/" not in page and "http" not in page
    assert "<table" in page and "transformer" in page


def test_csvs_round_trip(report: dict[str, Path]) -> None:
    ranking = pd.read_csv(report["tables/ranking.csv"])
    assert list(ranking["architecture"]) == ["transformer", "lstm"]  # transformer is built to be better
    assert (ranking["iqm_low"] <= ranking["iqm"]).all() and (ranking["iqm"] <= ranking["iqm_high"]).all()
    completeness = pd.read_csv(report["tables/completeness.csv"])
    assert completeness[["architecture", "level", "seed", "status"]].values.tolist() == [
        ["transformer", "maze", 1, "failed"]
    ]


def test_marl_eval_layout(report: dict[str, Path]) -> None:
    data = json.loads(report["marl_eval.json"].read_text())
    assert list(data) == ["mettagrid"]
    tasks = data["mettagrid"]
    assert set(tasks) == set(LEVELS)
    assert all(set(algorithms) == set(ARCHS) for algorithms in tasks.values())
    run = tasks["arena"]["lstm"]["run_0"]
    assert set(run["step_0"]) == {"step_count", "reward_per_agent", "hearts_per_agent"}
    assert run["step_0"]["step_count"] == 0 and len(run["step_0"]["reward_per_agent"]) == 1
    assert len([k for k in run if k.startswith("step_")]) == 30
    assert set(run["absolute_metrics"]) == {"reward_per_agent", "hearts_per_agent"}
    steps = [run[f"step_{i}"]["step_count"] for i in range(30)]
    assert steps == sorted(steps)
    run_counts = {(level, arch): len(runs) for level, algos in tasks.items() for arch, runs in algos.items()}
    complete = {cell: n for cell, n in run_counts.items() if cell != (FAILED[1], FAILED[0])}
    assert set(complete.values()) == {len(SEEDS)}
    assert run_counts[(FAILED[1], FAILED[0])] == len(SEEDS) - 1  # the hole shows as a missing run


def test_marl_eval_json_is_strict_json() -> None:
    scores, curves, _ = _frames()
    curves.loc[0, "reward_per_agent"] = np.nan
    text = json.dumps(marl_eval_json(scores, curves), allow_nan=False)
    assert "NaN" not in text


@pytest.mark.parametrize(
    ("case", "frames", "note"),
    [
        ("one architecture", _frames(archs=("lstm",)), "Only one architecture"),
        ("one seed", _frames(seeds=(0,), failed=()), "One seed per cell"),
        (
            "all failed",
            _frames(failed=tuple((a, lv, s) for a in ARCHS for lv in LEVELS for s in SEEDS)),
            "No cell succeeded",
        ),
        ("level without any seed", _frames(failed=(("lstm", "maze", 0), ("lstm", "maze", 1))), "left out"),
    ],
)
def test_thin_grids_render_with_notes(tmp_path: Path, case: str, frames: tuple[pd.DataFrame, ...], note: str) -> None:
    paths = _write(tmp_path, frames)
    markdown = paths["report.md"].read_text()
    assert note in markdown, case
    for title in SECTION_TITLES:
        assert f"## {title}" in markdown
    assert paths["report.html"].read_text().count("data:image/png;base64,") == 6


def test_absent_cells_are_reported() -> None:
    scores, _, _ = _frames(failed=())
    scores = scores.drop(index=scores.index[-1]).drop(columns="status")  # status inferred, one row absent
    table = tables.completeness_table(check_scores(scores))
    assert table[["architecture", "level", "seed", "status"]].values.tolist() == [["transformer", "maze", 1, "absent"]]


def test_missing_columns_are_named() -> None:
    scores, curves, throughput = _frames()
    with pytest.raises(ValueError, match="random_reward_per_agent"):
        marl_eval_json(scores.drop(columns="random_reward_per_agent"), curves)


def test_inline_links_escape_text_and_keep_the_target() -> None:
    from benchmark.reporting.markup import _inline

    out = _inline("replay [../runs/r<1>/x.json.z](../runs/r%3C1%3E/x.json.z), `code` and **bold**")
    assert out == (
        'replay <a href="../runs/r%3C1%3E/x.json.z">../runs/r&lt;1&gt;/x.json.z</a>, <code>code</code> and '
        "<strong>bold</strong>"
    )
