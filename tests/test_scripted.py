"""The scripted expert and the reference scores it anchors (0 = random, 1 = scripted)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.evaluation.baselines import EpisodeRandom, RandomPolicy
from benchmark.evaluation.evaluator import evaluate
from benchmark.evaluation.scripted import FAR, ScriptedPolicy, relax
from benchmark.levels import LEVELS, get_level
from benchmark.levels.references import load_references
from benchmark.training.vecenv import BatchedEnv


def test_relax_walks_around_a_wall_to_the_goal() -> None:
    goal = np.full((1, 5, 5), FAR)
    goal[0, 0, 2] = 0  # a goal two rows north of the centre (2, 2), behind a wall at (1, 2)
    free = np.ones((1, 5, 5), dtype=bool)
    free[0, 0, 2] = free[0, 1, 2] = False
    # north, south, west, east: west and east are 3 (two steps, then the bump); the search stops there, so
    # north (the wall) and south (a longer way) are only known to cost more
    north, south, west, east = relax(goal, free, centre=2)[0]
    assert (west, east) == (3, 3) and north == FAR and south > 3
    goal[0, 2, 3] = 2  # a goal right next to us, east, costing 2 (a later-preferred building): bumped at once
    assert relax(goal, free, centre=2)[0].argmin() == 3 and relax(goal, free, centre=2)[0].min() == 2
    goal[0, 2, 3] = 5  # costing 5 now: the way round to the first goal is cheaper
    assert relax(goal, free, centre=2)[0].min() == 3
    assert (relax(np.full((1, 5, 5), FAR), free, centre=2) == FAR).all()  # nothing in view


@pytest.fixture(scope="module")
def level_1_expert() -> tuple[ScriptedPolicy, BatchedEnv]:
    level = get_level("level_1_basic")
    env = BatchedEnv(level, 1, sim_config=level.evaluation("basic"))
    yield ScriptedPolicy(level, env.spec, EpisodeRandom(0, 1, env.agents)), env
    env.close()


def _cells(policy: ScriptedPolicy, own: dict[str, int], building: str, stock: int = 0):
    """A window with the agent at the centre holding `own`, and one `building` holding `stock` of its output."""
    from benchmark.levels.economy import BUILDINGS, OUTPUT, RESOURCES

    w, c = policy.window, policy.centre
    kind = np.full((1, w, w), -1)
    items = np.zeros((1, w, w, len(RESOURCES)), dtype=np.int64)
    for item, n in own.items():
        items[0, c, c, RESOURCES.index(item)] = n
    kind[0, 0, 0] = BUILDINGS.index(building)
    items[0, 0, 0, RESOURCES.index(OUTPUT[building])] = stock
    return kind, items


def test_the_expert_converts_only_what_lies_above_its_reserve(level_1_expert) -> None:
    policy, _ = level_1_expert  # level 1 pays for holding up to 2 ore and 2 batteries
    assert policy.reserve.tolist()[:2] == [2, 2]
    assert policy.goals(*_cells(policy, {"battery": 2}, "altar"))[0, 0, 0] == FAR  # its reserve: keep it
    assert policy.goals(*_cells(policy, {"battery": 3}, "altar"))[0, 0, 0] < FAR  # one spare: make a heart
    assert policy.goals(*_cells(policy, {"ore": 2}, "generator"))[0, 0, 0] == FAR
    assert policy.goals(*_cells(policy, {"ore": 3}, "generator"))[0, 0, 0] < FAR
    assert policy.goals(*_cells(policy, {}, "generator", stock=1))[0, 0, 0] < FAR  # free stock is always worth it
    empty, full = (policy.goals(*_cells(policy, {}, "mine", stock=s))[0, 0, 0] for s in (0, 1))
    assert full < empty < FAR  # an empty mine refills: a last resort, not nothing


def test_the_expert_reads_its_own_inventory_from_tokens(level_1_expert) -> None:
    policy, env = level_1_expert
    kind, stock = policy.read(env.obs)
    c = policy.centre
    assert (kind[:, c, c] == -2).all()  # every row sees itself (an agent) at the centre
    assert (stock[:, c, c] == 0).all()  # and starts with nothing
    assert (kind >= 0).sum() > 0  # buildings in view


def test_baseline_episodes_replay_exactly_in_any_batch() -> None:
    small = EpisodeRandom(7, 2, 3).uniform(2)
    large = EpisodeRandom(7, 5, 3).uniform(2)
    np.testing.assert_array_equal(small, large[:6])
    actions = RandomPolicy(5, 7, 2, 3).act(np.zeros((6, 1, 3), np.uint8), np.ones(6, bool))
    assert actions.shape == (6,) and actions.min() >= 0 and actions.max() <= 4


def test_shipped_references_cover_every_level_and_the_expert_beats_random_clearly() -> None:
    refs = load_references()
    assert set(refs["levels"]) == set(LEVELS) and refs["episodes"] >= 16
    for name, level in LEVELS.items():
        assert set(refs["levels"][name]) == set(level.evaluations), name
        for sim, by_policy in refs["levels"][name].items():
            random, scripted = by_policy["random"], by_policy["scripted"]
            metrics = ("hearts_per_agent",) if level.difficulty == 5 else ("reward_per_agent", "hearts_per_agent")
            for m in metrics:
                assert scripted[m]["mean"] >= 3 * random[m]["mean"], (name, sim, m)
                assert len(scripted["per_episode"][m]) == refs["episodes"]


def _replays_reference(level: str, episodes: int) -> None:
    refs = load_references()["levels"][level]
    for policy in ("random", "scripted"):
        result = evaluate(level_name=level, policy_kind=policy, episodes=episodes, threads=1)
        for sim, summary in result["simulations"].items():
            for m in ("reward_per_agent", "hearts_per_agent"):
                shipped = refs[sim][policy]["per_episode"][m][:episodes]
                assert summary["per_episode"][m] == pytest.approx(shipped, abs=1e-9), (level, sim, policy, m)


def test_references_replay_on_level_1() -> None:
    _replays_reference("level_1_basic", 1)


@pytest.mark.slow
@pytest.mark.parametrize("level", list(LEVELS))
def test_references_replay_on_every_level(level: str) -> None:
    _replays_reference(level, 2)


def test_references_command_writes_and_merges_levels(tmp_path, capsys):
    from benchmark.cli import main as archbench_main

    out = tmp_path / "refs.json"
    for level in ("level_1_basic", "level_2_easy"):
        with pytest.raises(SystemExit) as info:
            archbench_main(["references", "--levels", level, "--episodes", "1", "--out", str(out)])
        assert info.value.code in (0, None)
    assert f"written to {out}" in capsys.readouterr().err
    refs = load_references(out)
    assert set(refs["levels"]) == {"level_1_basic", "level_2_easy"} and refs["episodes"] == 1  # merged, not replaced
    shipped = load_references()["levels"]["level_1_basic"]["basic"]["scripted"]["per_episode"]["reward_per_agent"]
    assert refs["levels"]["level_1_basic"]["basic"]["scripted"]["per_episode"]["reward_per_agent"] == pytest.approx(
        shipped[:1]
    )
