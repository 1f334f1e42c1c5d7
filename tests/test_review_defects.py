"""Defects found in review (issue 10), each pinned by a test that failed before its fix."""

import json

import numpy as np
import pytest
import torch
from mettagrid.simulator import Simulator
from tensordict import TensorDict

from benchmark.components.agalite import oscillator_frequencies
from benchmark.components.base import ObsSpec
from benchmark.components.tokens import TokenShim
from benchmark.levels import LEVELS
from benchmark.levels.economy import BUILDINGS, OUTPUT
from benchmark.training.config import TrainConfig
from benchmark.training.trainer import METRICS, SUMMARY, train
from benchmark.training.vecenv import PENALTY_FEATURE, BatchedEnv


def test_episode_return_from_step_rewards_equals_mettagrids_own():
    """A restart zeroes the restarted simulation's reward slice: the final step's reward must survive it."""
    level = LEVELS["level_1_basic"].model_copy(update={"max_steps": 10})
    env = BatchedEnv(level, 2, run_seed=0)
    rng = np.random.default_rng(0)
    returns = np.zeros(env.num_rows)
    final_step_paid = 0
    checked = 0
    for _ in range(400):
        done, finished = env.step(rng.integers(0, 5, env.num_rows))
        returns += env.step_rewards
        for ep in finished:
            rows = slice(ep.slot * env.agents, (ep.slot + 1) * env.agents)
            final_step_paid += int(np.any(env.step_rewards[rows] != 0))
            assert returns[rows].mean() == pytest.approx(ep.reward_per_agent, abs=1e-5)
            returns[rows] = 0.0
            checked += 1
    assert checked >= 40
    assert final_step_paid > 0, "no episode paid on its last step: the test would not see the defect"
    env.close()


def building_capacity(level, stock: dict[str, int]) -> dict[str, int]:
    """Most items a building may hold: a mine its capacity, a converter its starting stock."""
    caps = {b: stock.get(b, 0) for b in BUILDINGS}
    caps["mine"] = level.mine_capacity
    return caps


def game_variants(level):
    """Every game a level runs: training (each curriculum task) and every evaluation, with its stock."""
    if level.curriculum is not None:
        for task in range(level.num_tasks):
            stock = {**level.starting_stock, **level.task_variant(task)[0]}
            yield f"task{task}", level.task(task), stock
    else:
        yield "train", level.game(), level.starting_stock
    for sim in level.evaluations:
        yield sim, level.evaluation(sim), level.starting_stock


@pytest.mark.parametrize("name", list(LEVELS))
def test_no_building_ever_holds_more_than_its_capacity(name):
    level = LEVELS[name]
    steps = level.mine_regen_period * (level.mine_capacity + 2)  # enough regenerations to overfill an empty mine
    for label, cfg, stock in game_variants(level):
        sim = Simulator().new_simulation(cfg, seed=0)
        c = sim._c_sim
        caps = building_capacity(level, stock)
        ids = {n: i for i, n in enumerate(sim.resource_names)}
        for _ in range(steps):  # agents stand still: nothing is taken out
            c.step()
        for obj in c.grid_objects().values():
            kind = obj["type_name"]
            if kind in caps:
                held = obj["inventory"].get(ids[OUTPUT[kind]], 0)
                assert held <= caps[kind], f"{name}/{label}: a {kind} holds {held} > capacity {caps[kind]}"
        sim.close()


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
def test_agalite_oscillators_are_distinct_features(rank):
    omegas = oscillator_frequencies(rank)
    waves = torch.cos(torch.arange(32).float().unsqueeze(1) * omegas)  # [t, r]
    for i in range(rank):
        assert waves[:, i].std() > 0.1, f"oscillator {i} is (nearly) constant"
        for j in range(i):
            assert not torch.allclose(waves[:, i], waves[:, j], atol=1e-3), f"oscillators {i} and {j} coincide"


def test_a_negative_reward_reaches_the_policy_with_its_sign():
    """Level 2's lasery costs more reward than a laser pays: the step's reward is negative."""
    env = BatchedEnv(LEVELS["level_2_easy"], 2, run_seed=0)
    spec: ObsSpec = env.spec
    shim = TokenShim(spec)
    reward_id = spec.feature_names.index("last_reward")
    penalty_id = spec.feature_names.index(PENALTY_FEATURE)
    rng = np.random.default_rng(0)
    seen = 0
    for _ in range(1500):
        env.step(rng.integers(0, 5, env.num_rows))
        negative = np.flatnonzero(env.step_rewards < 0)
        if not len(negative):
            continue
        for row in negative:
            tok = env.obs[row]
            glob = tok[:, 0] == 0xFE
            assert tok[glob & (tok[:, 1] == reward_id), 2].tolist() == [0]
            assert tok[glob & (tok[:, 1] == penalty_id), 2].tolist() == [round(-env.step_rewards[row] * 100)]
        obs = torch.from_numpy(env.obs[negative])
        td = shim(TensorDict({"obs": obs}, batch_size=[len(negative)]))
        assert torch.allclose(td["last_reward"], torch.from_numpy(env.step_rewards[negative]), atol=0.006)
        seen += len(negative)
    assert seen > 0, "no negative reward in 1500 random steps: the test saw nothing"
    env.close()


def short_train(tmp_path, timesteps: int, **kw):
    out = tmp_path / "run"
    cfg = TrainConfig(
        timesteps=timesteps, num_sims=2, bptt=16, minibatches=4, threads=1, log_seconds=0.0, out=out, **kw
    )
    result = train(cfg)
    return out, result


def test_training_stops_at_the_budget_and_records_both_counts(tmp_path):
    out, result = short_train(tmp_path, timesteps=1000)  # 24 rows x 16 steps = 384 a full update
    rows = 24
    assert 1000 <= result.agent_steps < 1000 + rows, "trained past the budget by more than one step of rows"
    summary = json.loads((out / SUMMARY).read_text())
    assert summary["timesteps_requested"] == 1000 and summary["agent_steps"] == result.agent_steps
    assert summary["settings"]["bptt"] == 16


def test_logged_ppo_statistics_are_the_mean_over_the_updates_minibatches(tmp_path, monkeypatch):
    import benchmark.training.trainer as trainer

    seen: list[float] = []
    real = trainer.ppo_loss

    def spy(*args, **kwargs):
        loss, stats = real(*args, **kwargs)
        seen.append(float(stats["policy_loss"]))
        return loss, stats

    monkeypatch.setattr(trainer, "ppo_loss", spy)
    out, _ = short_train(tmp_path, timesteps=384)  # one update: 3 epochs of 4 minibatches
    line = json.loads((out / METRICS).read_text().splitlines()[-1])
    assert len(seen) == 12 and len(set(seen)) > 1
    assert line["policy_loss"] == pytest.approx(float(np.mean(seen)), abs=1e-5)
