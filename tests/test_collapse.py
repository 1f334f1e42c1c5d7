"""Early stop of a collapsed run: the rule on made-up curves, and a real training that stops on it."""

import json
import math

import pytest

from benchmark.levels import LEVELS
from benchmark.orchestration.outputs import read_train_metrics
from benchmark.training import collapse
from benchmark.training.collapse import CollapseWatch
from benchmark.training.config import TrainConfig
from benchmark.training.trainer import SUMMARY, finished_run, train

LN5 = math.log(5)


def feed(watch: CollapseWatch, steps: list[int], entropy, reward) -> str | None:
    reason = None
    for i, step in enumerate(steps):
        reason = watch.observe(step, entropy(i), reward(i))
        if reason:
            return reason
    return reason


def test_a_collapsed_stretch_after_a_quarter_of_the_budget_stops_the_run():
    watch = CollapseWatch(budget=100_000, actions=5, random_reward=5.0)
    steps = list(range(1_000, 100_001, 1_000))
    reason = feed(watch, steps, entropy=lambda i: 0.01, reward=lambda i: 4.0)
    assert reason is not None and reason.startswith("collapsed at agent step 25,000")
    assert "entropy below 0.080 nats" in reason and "1.1x random (5.000)" in reason


@pytest.mark.parametrize(
    "entropy, reward",
    [
        (lambda i: 0.40, lambda i: 4.0),  # the lowest entropy any healthy run here reached: not collapsed
        (lambda i: 0.01, lambda i: 12.0),  # deterministic but scoring: a good greedy policy
        (lambda i: 0.01 if i % 5 else 1.0, lambda i: 4.0),  # a healthy update in every window of 10
    ],
)
def test_a_run_that_is_not_collapsed_all_along_the_window_goes_on(entropy, reward):
    watch = CollapseWatch(budget=100_000, actions=5, random_reward=5.0)
    assert feed(watch, list(range(1_000, 100_001, 1_000)), entropy, reward) is None


def test_an_unknown_random_reward_never_stops_a_run():
    watch = CollapseWatch(budget=100_000, actions=5, random_reward=float("nan"))
    assert feed(watch, list(range(1_000, 100_001, 1_000)), lambda i: 0.0, lambda i: 0.0) is None


def test_a_real_training_stops_early_is_evaluable_and_counts_as_finished(tmp_path, monkeypatch):
    monkeypatch.setattr(collapse, "ENTROPY_FRACTION", 10.0)  # every policy counts as "at its floor"
    monkeypatch.setattr(collapse, "REWARD_MARGIN", 1e9)  # and as scoring like random
    agents, bptt = LEVELS["level_1_basic"].num_agents, 4
    cfg = TrainConfig(
        architecture="fast",
        timesteps=60 * agents * bptt,
        num_sims=1,
        bptt=bptt,
        minibatches=1,
        epochs=1,
        checkpoint_seconds=3600,
        threads=1,
        out=tmp_path / "run",
    )
    result = train(cfg)
    assert result.stopped_early is not None and result.stopped_early.startswith("collapsed at agent step")
    assert cfg.timesteps * 0.25 <= result.agent_steps < cfg.timesteps
    summary = json.loads((tmp_path / "run" / SUMMARY).read_text())
    assert summary["stopped_early"] == result.stopped_early and summary["timesteps_requested"] == cfg.timesteps
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    again = finished_run(cfg)  # a rerun (resume) leaves it as it is
    assert again is not None and again.already_done and again.stopped_early == result.stopped_early
    assert read_train_metrics(tmp_path / "run").stopped_early == result.stopped_early
