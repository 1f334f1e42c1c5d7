"""A short real training and evaluation logged to W&B offline: the run files hold its metrics and config."""

import json

from benchmark.evaluation.evaluator import evaluate
from benchmark.tracking.wandb_tracker import read_offline_run
from benchmark.training.config import TrainConfig
from benchmark.training.trainer import SUMMARY, train


def test_offline_wandb_run_of_a_real_training_holds_metrics_and_config(tmp_path, fake_wandb_key):
    out = tmp_path / "run"
    cfg = TrainConfig(
        timesteps=24 * 16 * 3,
        out=out,
        rows=24,
        bptt=16,
        threads=1,
        log_seconds=0.0,
        wandb_mode="offline",
        experiment_id="exp1",
        run_id="exp1.fast.level_1_basic.s0",
    )
    train(cfg)
    summary = json.loads((out / SUMMARY).read_text())
    assert summary["wandb"] and (out / "wandb").is_dir()
    config, history = read_offline_run(out)
    assert config["architecture"] == "fast" and config["level"] == "level_1_basic" and config["parameters"] > 0
    steps = [h["agent_steps"] for h in history if "agent_steps" in h]
    assert steps and steps[-1] == summary["agent_steps"]
    assert all("policy_loss" in h and "sps" in h for h in history if "agent_steps" in h)
    result = evaluate(run_dir=out, episodes=1, wandb_mode="offline")
    assert result["wandb"] and result["wandb"] != summary["wandb"], "eval has its own W&B run"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert fake_wandb_key.encode() not in path.read_bytes(), f"W&B key leaked into {path}"
