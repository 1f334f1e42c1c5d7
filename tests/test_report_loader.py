"""The report reads the controller's ledger: every cell becomes a row, a failed run is listed as a hole."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from benchmark.levels.references import load_references
from benchmark.reporting.loader import build_report, frames


def interval(mean):
    return {"mean": mean, "ci_low": mean - 0.5, "ci_high": mean + 0.5}


def eval_metrics(reward, hearts, sims=("basic",)):
    return {
        "file": "x",
        "policy": "trained",
        "episodes_per_simulation": 4,
        "simulations": {
            s: {"episodes": 4, "reward_per_agent": interval(reward), "hearts_per_agent": interval(hearts)} for s in sims
        },
    }


def job(status, metrics=None, error=None):
    return {
        "job_id": "j",
        "status": status,
        "attempts": 1,
        "command": "archbench ...",
        "log": "l",
        "error": error,
        "metrics": metrics,
    }


def make_ledger(root, failed_cell=True):
    runs = []
    for arch, base in (("fast", 8.0), ("vit", 6.0)):
        for seed in (0, 1):
            run_id = f"x.{arch}.level_1_basic.s{seed}"
            run_dir = root / "runs" / run_id
            run_dir.mkdir(parents=True)
            lines = [
                {"agent_steps": s, "reward_per_agent": base * s / 3000 + seed, "hearts_per_agent": s / 1000}
                for s in (1000, 2000, 3000)
            ]
            (run_dir / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
            train = {
                "agent_steps": 3000,
                "sps": 5000.0,
                "parameters": 1000,
                "checkpoint": "c",
                "wall_seconds": 1.0,
                "device": "cpu",
                "metrics_file": str(run_dir / "metrics.jsonl"),
            }
            ev = job("success", eval_metrics(base + seed, base / 2))
            if failed_cell and arch == "vit" and seed == 1:
                ev = job("failed", None, "exit 1: out of memory")
            runs.append(
                {
                    "run_id": run_id,
                    "architecture": arch,
                    "level": "level_1_basic",
                    "seed": seed,
                    "run_dir": str(run_dir),
                    "training": job("success", train),
                    "evaluation": ev,
                }
            )
    ledger = {
        "format": "archbench-results-v1",
        "experiment_id": "x",
        "start_time": "t",
        "updated_time": "t",
        "max_timesteps": 3000,
        "config": {},
        "environment": {"python": "3.11"},
        "baselines": {"level_1_basic": job("success", eval_metrics(4.0, 2.0)) | {"level": "level_1_basic"}},
        "runs": runs,
    }
    (root / "benchmark_results.json").write_text(json.dumps(ledger))
    return ledger


def test_frames_hold_every_cell_and_the_random_baseline(tmp_path):
    root = tmp_path / "x"
    ledger = make_ledger(root)
    scores, curves, throughput = frames(ledger, root)
    assert len(scores) == 4 and len(curves) == 12 and len(throughput) == 4
    failed = scores[scores["status"] != "success"]
    assert len(failed) == 1 and "out of memory" in failed.iloc[0]["status"]
    assert failed["reward_per_agent"].isna().all()
    assert (scores["random_reward_per_agent"] == 4.0).all()
    refs = load_references()["levels"]["level_1_basic"]["basic"]  # the shipped fixed scale reaches every row
    assert (scores["scripted_reward_per_agent"] == refs["scripted"]["reward_per_agent"]["mean"]).all()
    assert (scores["ref_random_hearts_per_agent"] == refs["random"]["hearts_per_agent"]["mean"]).all()


def test_report_ranks_on_the_reference_scale_by_default_and_on_the_grid_on_request(tmp_path):
    make_ledger(tmp_path / "x")
    refs = load_references()["levels"]["level_1_basic"]["basic"]
    zero, one = (refs[p]["reward_per_agent"]["mean"] for p in ("random", "scripted"))
    paths = build_report("x", tmp_path, reps=2000)
    ranking = pd.read_csv(paths["tables/ranking.csv"]).set_index("architecture")
    fast = np.mean([(8.0 - zero) / (one - zero), (9.0 - zero) / (one - zero)])  # fast scored 8 and 9
    assert ranking.loc["fast", "mean"] == pytest.approx(fast)
    md = paths["report.md"].read_text()
    assert "1 = scripted expert" in md and "## Difficulty ladder" in md and "references.json of" in md
    best = build_report("x", tmp_path, reps=2000, normalise="best")
    ranking = pd.read_csv(best["tables/ranking.csv"]).set_index("architecture")
    assert ranking.loc["fast", "mean"] == pytest.approx(1.0)  # the grid's best is 1 on that view
    assert "1 = best architecture" in best["report.md"].read_text()


def test_report_from_a_ledger_with_a_failed_run_lists_the_hole(tmp_path):
    make_ledger(tmp_path / "x")
    paths = build_report("x", tmp_path, reps=2000)
    md = paths["report.md"].read_text()
    assert "Grid completeness" in md and "vit" in md and "out of memory" in md
    assert (tmp_path / "x" / "report" / "report.html").stat().st_size > 20_000


def test_report_cli_refuses_a_foreign_file_with_one_line(tmp_path):
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "benchmark_results.json").write_text('{"hello": 1}')
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", "report", "y", "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: ") and len(proc.stderr.splitlines()) == 1


@pytest.mark.parametrize("failed", [False])
def test_complete_grid_has_no_holes(tmp_path, failed):
    root = tmp_path / "x"
    scores, _, _ = frames(make_ledger(root, failed_cell=failed), root)
    assert (scores["status"] == "success").all()
