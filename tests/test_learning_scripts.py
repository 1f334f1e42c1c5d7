"""The calibration and ladder scripts run end to end on tiny budgets, record as they go and skip what is
recorded (this checks that they work, not that anything learns)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def script(name: str, *argv: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, f"benchmarks/{name}", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.slow  # a real training through the script (17 s); its table's bars are checked below by default
def test_calibration_records_each_run_and_prints_the_table(tmp_path):
    argv = ["--architectures", "fast", "--seeds", "0", "--timesteps", "600", "--episodes", "1", "--out", str(tmp_path)]
    done = script("calibrate.py", *argv, "--threads", "1")
    (record,) = [json.loads(line) for line in (tmp_path / "calibration.jsonl").read_text().splitlines()]
    assert record["timesteps_requested"] == 600 and 600 <= record["agent_steps"] < 600 + 384
    assert record["basic.reward_per_agent"]["random"] > 0 and record["settings"]["learning_rate"] == 1.15e-3
    assert "| fast | - | 1 | 600 / " in done.stdout
    assert "bars over 1 of 13 architectures (default settings; not measured yet: fast_lstm_reset" in done.stdout
    assert "; fewer than 2 seeds (not yet the table's bar): fast" in done.stdout  # one seed is not the table's 2
    again = script("calibrate.py", *argv)  # recorded: nothing trained again
    assert len((tmp_path / "calibration.jsonl").read_text().splitlines()) == 1 and "| fast | - | 1 |" in again.stdout
    swept = subprocess.run(
        [sys.executable, "benchmarks/calibrate.py", *argv, "--set", "epochs=2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert swept.returncode != 0 and "--set needs --tag NAME" in swept.stderr


def test_calibration_bars_name_what_is_missing_and_what_has_one_seed(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from calibrate import bars

    def record(arch: str, ratio: float, tag: str = "") -> dict:
        return {"architecture": arch, "tag": tag, "basic.reward_per_agent": {"ratio": ratio}}

    line = bars([record("fast", 3.0), record("fast", 2.0), record("vit", 1.2), record("vit", 9.0, tag="lr")])
    assert line.startswith("bars over 2 of 13 architectures (default settings; not measured yet: fast_lstm_reset")
    assert "every one >= 1.5x random reward: FAIL (vit)" in line and "at least 8 >= 2x: FAIL (1)" in line
    assert line.endswith("; fewer than 2 seeds (not yet the table's bar): vit")  # a tagged sweep run is not a seed


def test_calibration_table_names_each_seeds_settings_when_they_differ(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from calibrate import table

    def record(seed: int, precision: str) -> dict:
        settings = {"learning_rate": 5e-4, "epochs": 3, "minibatches": 12, "bptt": 64, "entropy_coef": 0.01}
        ratio = {"trained": 3.0, "random": 1.0, "ratio": 3.0}
        return {"architecture": "transformer", "tag": "", "seed": seed, "settings": settings, "precision": precision,
                "sps": 600.0, "timesteps_requested": 10, "agent_steps": 12, "basic.reward_per_agent": ratio,
                "basic.hearts_per_agent": ratio}  # fmt: skip

    same = table([record(0, "float32"), record(1, "float32")]).splitlines()[-1]
    assert "ent 0.01, float32 |" in same and "s0:" not in same
    mixed = table([record(1, "bfloat16"), record(0, "float32")]).splitlines()[-1]
    assert "s0: lr 0.0005, ep 3, mb 12, bptt 64, ent 0.01, float32; s1: lr 0.0005" in mixed and "bfloat16 |" in mixed


def ladder_record(level: str, steps: int, ratio: float) -> dict:
    sims = {"basic": ratio, "combat": ratio / 2}
    record = {"architecture": "fast", "tag": "", "seed": 0, "level": level, "timesteps_requested": steps,
              "agent_steps": steps + 128, "sps": 1000.0}  # fmt: skip
    for sim, x in sims.items():
        for metric in ("reward_per_agent", "hearts_per_agent"):
            record[f"{sim}.{metric}"] = {"trained": x, "random": 1.0, "ratio": x}
    return record


def test_ladder_table_checks_every_evaluation_against_its_bar(tmp_path):
    """A recorded ladder (no training): the combat evaluation at half the basic ratio fails level 4's 3x bar."""
    lines = [ladder_record("level_4_hard", 10_000_000, 5.0), ladder_record("level_5_expert", 20_000_000, 5.0)]
    (tmp_path / "ladder.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    done = script("ladder.py", "--levels", "level_4_hard,level_5_expert", "--out", str(tmp_path), "--table-only")
    rows = [ln for ln in done.stdout.splitlines() if ln.startswith("| level_")]
    assert len(rows) == 4
    assert "| basic |" in rows[0] and "PASS (reward >= 3x within 10M)" in rows[0]
    assert "| combat |" in rows[1] and "FAIL (reward >= 3x within 10M)" in rows[1]
    assert "PASS (hearts >= 2x within 20M)" in rows[2] and "PASS (hearts >= 2x within 20M)" in rows[3]


@pytest.mark.slow
def test_ladder_trains_and_reports_every_evaluation(tmp_path):
    argv = ["--levels", "level_3_medium", "--budgets", "level_3_medium=1e3", "--episodes", "1", "--out", str(tmp_path)]
    done = script("ladder.py", *argv, "--threads", "1")
    assert "| level_3_medium | 0 | 1,000 / " in done.stdout
    assert "| basic |" in done.stdout and "| combat |" in done.stdout and "within 10M" in done.stdout


@pytest.mark.slow
def test_imitation_clones_the_expert_per_architecture():
    done = script("imitation.py", "--architectures", "fast,vit", "--episodes", "1", "--record-steps", "130",
                  "--steps", "10")  # fmt: skip
    assert "180 expert samples on level_1_basic" in done.stdout
    assert "fast: held-out accuracy after 2:" in done.stdout and "vit: held-out accuracy" in done.stdout
