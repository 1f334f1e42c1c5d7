"""Evaluation replays: MettaGrid's own writer, read back and checked against the evaluation's figures."""

from __future__ import annotations

import json
import zlib

import pytest

from benchmark.evaluation.evaluator import evaluate
from benchmark.levels import get_level


def read_replay(path: str) -> dict:
    with open(path, "rb") as f:
        return json.loads(zlib.decompress(f.read()))


@pytest.mark.parametrize("level_name", ["level_1_basic", "level_3_medium"])
def test_a_written_replay_has_every_step_every_agent_and_the_episodes_rewards(tmp_path, level_name):
    level = get_level(level_name)
    out = tmp_path / "eval.json"
    result = evaluate(level_name=level_name, policy_kind="random", episodes=2, replays=1, threads=1, out=out)
    saved = json.loads(out.read_text())
    assert saved["replays"]["format_version"] == 4 and saved["replays"]["mettagrid"] == "0.26.22"
    assert set(saved["replays"]["files"]) == set(level.evaluations)
    for sim, files in saved["replays"]["files"].items():
        assert files == [f"eval.replays/{sim}.ep0.json.z"]  # relative to the output's folder
        replay = read_replay(str(tmp_path / files[0]))
        assert replay["version"] == 4
        assert replay["num_agents"] == level.num_agents
        assert replay["max_steps"] == level.max_steps  # one logged step per simulation step: every one
        agents = [o for o in replay["objects"] if "agent_id" in o]
        assert sorted(o["agent_id"] for o in agents) == list(range(level.num_agents))
        rewards = replay["infos"]["episode_rewards"]
        assert len(rewards) == level.num_agents
        # the recorded episode is evaluation episode 0; the evaluation's mean is over episodes 0 and 1
        episode0 = sum(rewards) / len(rewards)
        per_episode = result["simulations"][sim]["per_episode"]["reward_per_agent"]
        assert episode0 == pytest.approx(per_episode[0], abs=1e-4)
    assert not list(tmp_path.glob("eval.replays/.*"))  # no partial file left
    behaviour = saved["simulations"][level.evaluations[0]]["behaviour_per_agent"]
    assert set(behaviour) >= {"idle_steps", "wall_bumps", "cells_visited", "ore_lost", "battery_lost"}
    assert 1 <= behaviour["cells_visited"] <= level.max_steps and behaviour["idle_steps"] > 0  # random: a fifth no-op
    from benchmark.orchestration.outputs import read_eval_metrics

    recorded = read_eval_metrics(out).simulations[level.evaluations[0]]  # what the ledger keeps
    assert recorded.behaviour_per_agent == behaviour


def test_no_replays_when_asked_for_none(tmp_path):
    out = tmp_path / "eval.json"
    result = evaluate(level_name="level_1_basic", policy_kind="random", episodes=1, replays=0, threads=1, out=out)
    assert "replays" not in result and not (tmp_path / "eval.replays").exists()
