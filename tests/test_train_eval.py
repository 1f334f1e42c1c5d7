"""A real (short) PPO training and evaluation, end to end, on the real MettaGrid."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.cli import main as archbench_main
from benchmark.evaluation.evaluator import evaluate
from benchmark.training.config import TrainConfig
from benchmark.training.trainer import METRICS, SUMMARY, train

TINY = dict(rows=24, bptt=16, minibatches=2, epochs=1, checkpoint_seconds=3600, log_seconds=0.0)


def tiny_run(tmp: Path, seed: int, steps: int = 24 * 16 * 4) -> dict:
    out = tmp / f"seed{seed}"
    train(TrainConfig(seed=seed, timesteps=steps, out=out, threads=1, **TINY))
    return evaluate(run_dir=out, episodes=2, threads=1)


def test_train_then_evaluate_writes_every_output(tmp_path):
    result = tiny_run(tmp_path, seed=0)
    run = tmp_path / "seed0"
    summary = json.loads((run / SUMMARY).read_text())
    assert summary["agent_steps"] >= 24 * 16 * 4 and summary["parameters"] > 500_000
    lines = [json.loads(x) for x in (run / METRICS).read_text().splitlines()]
    assert lines and all(x["agent_steps"] > 0 and x["sps"] > 0 for x in lines)
    assert all(abs(x["policy_loss"]) < 10 and x["value_loss"] >= 0 for x in lines)
    # a learning-curve point every update, finished episodes or not
    assert [x["update"] for x in lines] == list(range(1, len(lines) + 1))
    assert all(math.isfinite(x["rollout_reward_per_agent"]) for x in lines)
    sim = result["simulations"]["basic"]
    assert sim["episodes"] == 2 and len(sim["seeds"]) == 2
    assert sim["reward_per_agent"]["ci_low"] <= sim["reward_per_agent"]["mean"] <= sim["reward_per_agent"]["ci_high"]
    assert min(sim["seeds"]) >= 1 << 30, "evaluation seeds are disjoint from training seeds"
    assert json.loads((run / "eval.json").read_text())["simulations"]["basic"]["episodes"] == 2


def test_same_seed_same_metrics_other_seed_different(tmp_path):
    a = tiny_run(tmp_path / "a", seed=3)["simulations"]["basic"]
    b = tiny_run(tmp_path / "b", seed=3)["simulations"]["basic"]
    c = tiny_run(tmp_path / "c", seed=4)["simulations"]["basic"]
    assert a["per_episode"] == b["per_episode"]
    assert a["per_episode"] != c["per_episode"]


def test_random_policy_is_evaluated_on_the_same_episodes(tmp_path):
    r = evaluate(level_name="level_1_basic", policy_kind="random", episodes=2, out=tmp_path / "r.json")
    trained = tiny_run(tmp_path, seed=0)
    assert r["simulations"]["basic"]["seeds"] == trained["simulations"]["basic"]["seeds"]
    assert r["simulations"]["basic"]["reward_per_agent"]["mean"] > 0


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "benchmark.cli", *args]


def test_training_killed_with_sigkill_resumes_from_its_checkpoint(tmp_path):
    out = tmp_path / "run"
    cmd = _cli(
        "train",
        "--timesteps",
        "30000",
        "--rows",
        "24",
        "--bptt",
        "16",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--checkpoint-seconds",
        "0.5",
        "--out",
        str(out),
        "--quiet",
    )
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, f"training ended before it could be killed: {proc.stderr.read().decode()}"
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / SUMMARY).exists()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / SUMMARY).read_text())
    assert summary["resumed_from"] > 0, "the restarted training continued from the checkpoint"
    assert summary["agent_steps"] >= 30000
    steps = [json.loads(x)["agent_steps"] for x in (out / METRICS).read_text().splitlines()]
    assert steps == sorted(steps) and len(steps) == len(set(steps)), "metrics are not duplicated by the resume"


@pytest.mark.parametrize(
    "args, expected",
    [
        (("train", "--level", "level_9"), "unknown level 'level_9'; valid: level_1_basic"),
        (("train", "--architecture", "nope"), "unknown architecture 'nope'; valid: fast"),
        (("train", "--timesteps", "0"), "--timesteps must be a positive integer, got 0"),
        (("train", "--timesteps", "-5"), "--timesteps must be a positive integer, got -5"),
        (("train", "--precision", "fp16"), "precision: Input should be 'auto', 'fp32' or 'bf16' (got 'fp16')"),
        (("evaluate", "--run", "/nonexistent/run"), "no checkpoint at /nonexistent/run/checkpoint.pt"),
        (("evaluate", "--policy", "random"), "--policy random needs --level"),
        (("evaluate", "--policy", "clever", "--level", "level_1_basic"), "valid: trained, random, scripted"),
        (("evaluate", "--policy", "scripted"), "--policy scripted needs --level"),
        (("references", "--levels", "level_1_basik"), "did you mean 'level_1_basic'?"),
        (("references", "--episodes", "0"), "--episodes must be a positive integer, got 0"),
        (("report", "x", "--normalise", "grid"), "unknown --normalise 'grid'; valid: reference, best"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, expected, capsys):
    # in-process (a subprocess per case cost ~3 s of imports each); test_cli_edges runs the real entry points
    with pytest.raises(SystemExit) as info:
        archbench_main(list(args))
    err = capsys.readouterr().err
    assert info.value.code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
    assert "Traceback" not in err
