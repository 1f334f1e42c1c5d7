"""Real experiments: the project's own `archbench train` / `evaluate` as local subprocesses, tiny budgets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from orchestration_helpers import ROOT, TINY_ARCH


def controller(tmp_path: Path, experiment: str, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "benchmark/adaptive.py",
        "--experiment-id",
        experiment,
        "--local",
        "--levels",
        "level_1_basic",
        "--episodes",
        "1",
        "--architectures-module",
        str(TINY_ARCH),
        "--output-dir",
        str(tmp_path),
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if k != "ARCHBENCH_JOB_PROGRAM"}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def check_runs(ledger: dict, expected: int) -> None:
    assert len(ledger["runs"]) == expected
    for run in ledger["runs"]:
        tr, ev = run["training"], run["evaluation"]
        assert tr["status"] == ev["status"] == "success", (tr["error"], ev["error"])
        assert tr["metrics"]["agent_steps"] >= ledger["max_timesteps"] and tr["metrics"]["sps"] > 0
        assert tr["metrics"]["parameters"] > 0 and Path(tr["metrics"]["checkpoint"]).is_file()
        basic = ev["metrics"]["simulations"]["basic"]
        assert basic["episodes"] == 1 and "mean" in basic["reward_per_agent"]
        assert Path(run["run_dir"], "eval.json").is_file() and Path(tr["log"]).is_file()
    assert ledger["baselines"]["level_1_basic"]["status"] == "success"


def test_real_local_experiment_then_skip_training(tmp_path):
    """Two real runs (fast + a tiny test architecture), then --skip-training on a grid with runs never trained."""
    done = controller(
        tmp_path,
        "e2e",
        "--timesteps",
        "1000",
        "--max-parallel",
        "2",
        "--architectures",
        "fast,tiny",
        "--seeds-per-level",
        "1",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ledger_path = tmp_path / "e2e" / "benchmark_results.json"
    ledger = json.loads(ledger_path.read_text())
    check_runs(ledger, 2)
    assert ledger["config"]["wandb_mode"] == "offline" and ledger["environment"]["mettagrid"] == "0.26.22"
    assert "2/2 runs evaluated" in done.stdout and f"ledger:      {ledger_path}" in done.stdout

    # resuming with a shorter command plans the ledger's grid, nothing new; a contradicting flag is refused
    base = [sys.executable, "benchmark/adaptive.py", "--experiment-id", "e2e", "--output-dir", str(tmp_path)]
    short = subprocess.run([*base, "--local", "--dry-run"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert short.returncode == 0, short.stdout + short.stderr
    assert "2 runs = 2 architectures x 1 level x 1 seed" in short.stdout
    assert "time estimate: nothing left to run" in short.stdout and "new runs" not in short.stdout
    wider = subprocess.run([*base, "--levels", "level_2_easy"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert wider.returncode == 2 and wider.stderr.count("\n") == 1, wider.stderr
    assert "has --levels level_1_basic (from its ledger), not level_2_easy" in wider.stderr

    skip = controller(
        tmp_path,
        "e2e",
        "--timesteps",
        "1000",
        "--max-parallel",
        "2",
        "--architectures",
        "fast,tiny",
        "--seeds-per-level",
        "2",
        "--extend",
        "--skip-training",
    )
    assert skip.returncode == 1, skip.stdout + skip.stderr  # not every run could be evaluated
    assert "0 launched this session" in skip.stdout  # seed 0 is already evaluated, seed 1 has nothing to evaluate
    (line,) = [ln for ln in skip.stdout.splitlines() if ln.startswith("--skip-training: 2 run(s) have no checkpoint")]
    assert {"e2e.fast.level_1_basic.s1", "e2e.tiny.level_1_basic.s1"} == set(line.split(": ")[-1].split(", "))
    # (their order follows the plan's longest-first order, which measured speeds decide)
    runs = {r["run_id"]: r for r in json.loads(ledger_path.read_text())["runs"]}
    missing = runs["e2e.fast.level_1_basic.s1"]
    assert missing["training"]["status"] == missing["evaluation"]["status"] == "skipped"
    assert "no checkpoint at" in missing["training"]["error"] and missing["training"]["attempts"] == 0
    assert runs["e2e.fast.level_1_basic.s0"]["evaluation"]["status"] == "success"


@pytest.mark.slow
def test_issue_demo_four_runs(tmp_path):
    """The issue's command: 2 architectures x level_1_basic x 2 seeds at --max-parallel 2 -> 4 evaluated runs."""
    done = controller(
        tmp_path,
        "demo",
        "--timesteps",
        "2000",
        "--max-parallel",
        "2",
        "--architectures",
        "fast,tiny",
        "--seeds-per-level",
        "2",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    check_runs(json.loads((tmp_path / "demo" / "benchmark_results.json").read_text()), 4)


@pytest.mark.slow
def test_real_training_killed_with_sigkill_is_retried(tmp_path):
    """SIGKILL the real `archbench train` subprocess once it is training; the controller retries it to success."""
    ledger_path = tmp_path / "kill" / "benchmark_results.json"
    killed: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 240
        running_since = None
        while time.monotonic() < deadline and not killed:
            time.sleep(0.2)
            try:
                train = json.loads(ledger_path.read_text())["runs"][0]["training"]
            except (OSError, ValueError, IndexError, KeyError):
                continue
            if train["status"] == "running" and train["handle"]:
                running_since = running_since or time.monotonic()
                if time.monotonic() - running_since > 8:  # past its imports: stepping and learning
                    pid = int(train["handle"].split(":")[0])
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    done = controller(
        tmp_path,
        "kill",
        "--timesteps",
        "60000",
        "--max-parallel",
        "2",
        "--architectures",
        "tiny",
        "--seeds-per-level",
        "1",
        "--retry-backoff",
        "0",
    )
    thread.join(5)
    assert killed, "the training job was never seen running"
    assert done.returncode == 0, done.stdout + done.stderr
    train = json.loads(ledger_path.read_text())["runs"][0]["training"]
    assert train["status"] == "success" and train["attempts"] == 2
    assert train["history"][0]["outcome"] == "failed" and "killed by SIGKILL" in train["history"][0]["detail"]
    assert train["metrics"]["agent_steps"] >= 30000
