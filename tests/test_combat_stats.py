"""Shots fired and batteries stolen: derived from MettaGrid's laser and armor counts, checked against its own
count of the batteries a shot moves (`battery.deposited`, which only the combat handler's withdraw records)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.levels import get_level
from benchmark.reporting.behaviour import behaviour_frame
from benchmark.training.vecenv import BatchedEnv, combat_stats


def test_shots_and_thefts_on_a_real_combat_episode():
    level = get_level("level_3_medium")
    cfg = level.evaluation("combat")
    cfg.game.agent.inventory.initial = {"laser": 5, "armor": 1, "battery": 3}  # armed, armoured and worth robbing
    cfg.game.max_steps = 200
    env = BatchedEnv(level, 1, seeds=[123], sim_config=cfg)
    rng = np.random.default_rng(0)
    finished = []
    for _ in range(cfg.game.max_steps):
        actions = rng.integers(0, env.spec.num_actions, env.actions.shape[0]).astype(env.actions.dtype)
        finished += env.step(actions, restart=False)[1]
    (episode,) = finished
    raw = env._sims[0]._c_sim.get_episode_stats()["agent"]
    b = episode.behaviour_per_agent
    assert b["shots_fired"] > 0.5  # random moves among 20 armed agents do bump into each other
    assert b["batteries_stolen"] > 0.5
    assert b["shots_fired"] == pytest.approx(np.mean([s.get("laser.lost", 0) for s in raw]))
    # MettaGrid's own count of what the combat handler's withdraw moved: exactly the thefts
    assert b["batteries_stolen"] == pytest.approx(np.mean([s.get("battery.deposited", 0) for s in raw]))
    assert b["shots_fired"] - b["batteries_stolen"] == pytest.approx(np.mean([s.get("armor.lost", 0) for s in raw]))


def test_combat_stats_identity_against_mettagrids_deposits():
    stats = [
        {"laser.lost": 4.0, "armor.lost": 1.0, "battery.deposited": 0.0},
        {"laser.lost": 0.0, "armor.lost": 0.0},
        {"laser.lost": 2.0, "armor.lost": 1.0},
    ]
    assert combat_stats(stats, laser_cost=1) == {"shots_fired": 2.0, "batteries_stolen": pytest.approx(4 / 3)}
    assert combat_stats(stats, laser_cost=2) == {"shots_fired": 1.0, "batteries_stolen": pytest.approx(1 / 3)}
    assert combat_stats([{}], laser_cost=1) == {"shots_fired": 0.0, "batteries_stolen": 0.0}


def test_combat_columns_average_the_combat_evaluations_only():
    def sim(shots: float) -> dict:
        return {"gained_per_agent": {"ore": 1.0}, "behaviour_per_agent": {"shots_fired": shots, "batteries_stolen": 1}}

    ledger = {
        "runs": [
            {
                "architecture": "a",
                "level": "level_3",
                "evaluation": {"metrics": {"simulations": {"basic": sim(0), "combat": sim(6)}}},
            },
            {"architecture": "a", "level": "level_1", "evaluation": {"metrics": {"simulations": {"basic": sim(0)}}}},
        ]
    }
    frame = behaviour_frame(ledger).set_index("level")
    assert frame.loc["level_3", "shots fired"] == 6.0  # not (0 + 6) / 2: a basic evaluation has no combat
    assert np.isnan(frame.loc["level_1", "shots fired"])  # shown as '-'
