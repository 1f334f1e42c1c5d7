"""Each level keeps its promises: sizes, combat off/on per evaluation, shaped rewards, curriculum variants."""

import numpy as np
import pytest
from mettagrid.map_builder.ascii import AsciiMapBuilderConfig
from mettagrid.simulator import Simulator

from benchmark.levels import LEVELS, get_level
from benchmark.levels.curriculum import LearningProgressCurriculum
from benchmark.training.vecenv import BatchedEnv

EXPECTED = {  # name: (agents, map side, combat in training, evaluations)
    "level_1_basic": (12, 15, False, ("basic",)),
    "level_2_easy": (16, 20, False, ("basic",)),
    "level_3_medium": (20, 25, True, ("basic", "combat")),
    "level_4_hard": (24, 25, True, ("basic", "combat")),
    "level_5_expert": (24, 25, True, ("basic", "combat")),
}


def tiny(cfg, rows: list[str]):
    """The level's game on a hand-drawn map (two agents side by side)."""
    cfg = cfg.model_copy(deep=True)
    cfg.game.num_agents = sum(r.count("@") for r in rows)
    cfg.game.map_builder = AsciiMapBuilderConfig(
        map_data=rows,
        char_to_map_name={"#": "wall", "@": "agent.agent", ".": "empty", "m": "mine", "g": "generator", "a": "altar"},
    )
    sim = Simulator().new_simulation(cfg, seed=0)
    ids = {n: i for i, n in enumerate(sim.resource_names)}
    return sim, ids


def inventory(sim, agent: int) -> dict[str, int]:
    return {k: v for k, v in sim.agent(agent).inventory.items() if v}


def test_registry_has_five_levels_in_order():
    assert list(LEVELS) == list(EXPECTED)
    with pytest.raises(KeyError, match="valid: level_1_basic"):
        get_level("level_9")


@pytest.mark.parametrize("name", list(EXPECTED))
def test_level_builds_and_steps(name):
    agents, side, combat, evals = EXPECTED[name]
    level = LEVELS[name]
    assert level.evaluations == evals
    env = BatchedEnv(level, 2, run_seed=1)
    sim = env._sims[0]
    assert sim.num_agents == agents
    assert (sim.map_width, sim.map_height) == (side, side)
    assert (level.game().game.agent.on_use_handler is not None) == combat
    rng = np.random.default_rng(0)
    for _ in range(20):
        env.step(rng.integers(0, env.spec.num_actions, env.num_rows))
    assert env.obs.any(), "observations are written into the shared batch"
    assert env.spec.num_actions == 5
    env.close()


def steal(cfg) -> tuple[dict, dict]:
    """Agent 0 holds a laser and bumps agent 1, who holds two batteries."""
    sim, ids = tiny(cfg, ["#####", "#@@.#", "#####"])
    c = sim._c_sim
    c.set_inventory(0, {ids["laser"]: 1})
    c.set_inventory(1, {ids["battery"]: 2})
    c.actions()[:] = [sim.action_ids["move_east"], sim.action_ids["noop"]]
    c.step()
    return inventory(sim, 0), inventory(sim, 1)


@pytest.mark.parametrize("name", ["level_3_medium", "level_4_hard", "level_5_expert"])
def test_combat_off_in_basic_and_on_in_combat(name):
    level = LEVELS[name]
    attacker, victim = steal(level.evaluation("basic"))
    assert attacker == {"laser": 1} and victim == {"battery": 2}, "basic evaluation must have no combat"
    attacker, victim = steal(level.evaluation("combat"))
    assert attacker == {"battery": 1} and victim == {"battery": 1}, "combat: laser spent, one battery stolen"


def test_armor_blocks_a_shot():
    sim, ids = tiny(LEVELS["level_3_medium"].evaluation("combat"), ["#####", "#@@.#", "#####"])
    c = sim._c_sim
    c.set_inventory(0, {ids["laser"]: 1})
    c.set_inventory(1, {ids["battery"]: 2, ids["armor"]: 1})
    c.actions()[:] = [sim.action_ids["move_east"], sim.action_ids["noop"]]
    c.step()
    assert inventory(sim, 0) == {} and inventory(sim, 1) == {"battery": 2}


def test_evaluations_are_independent_deep_copies():
    level = LEVELS["level_3_medium"]
    basic, combat = level.evaluation("basic"), level.evaluation("combat")
    assert basic.game.agent.on_use_handler is None
    assert combat.game.agent.on_use_handler is not None
    basic.game.objects["mine"].inventory.initial["ore"] = 99
    assert level.evaluation("combat").game.objects["mine"].inventory.initial.get("ore") != 99
    assert combat.game.objects["mine"].inventory.initial.get("ore") != 99


def test_level_1_rewards_are_shaped_and_capped():
    level = LEVELS["level_1_basic"]
    sim, ids = tiny(level.game(), ["#####", "#@m.#", "#####"])
    c = sim._c_sim
    total = 0.0
    for _ in range(6):  # the mine holds 2 ore at the start: 2 x 0.5
        c.actions()[:] = [sim.action_ids["move_east"]]
        c.step()
        total += float(c.rewards()[0])
    assert inventory(sim, 0) == {"ore": 2}
    assert total == pytest.approx(1.0)
    c.set_inventory(0, {ids["ore"]: 10})  # only 2 ore pay: 10 ore still pay 2 x 0.5
    c.actions()[:] = [sim.action_ids["noop"]]
    c.step()
    assert total + float(c.rewards()[0]) == pytest.approx(1.0)


def test_converters_follow_level_recipes():
    # level 2: the altar takes 3 batteries for a heart, and starts empty
    sim, ids = tiny(LEVELS["level_2_easy"].game(), ["#####", "#@a.#", "#####"])
    c = sim._c_sim
    c.set_inventory(0, {ids["battery"]: 4})
    c.actions()[:] = [sim.action_ids["move_east"]]
    c.step()
    assert inventory(sim, 0) == {"battery": 1, "heart": 1}


def test_level_5_pays_hearts_only():
    rewards = LEVELS["level_5_expert"].game().game.agent.rewards
    assert set(rewards) == {"heart"}


def test_curriculum_has_64_distinct_variants():
    """Combat x agents' starting kit x which chain buildings start stocked: 2 x 4 x 8."""
    level = LEVELS["level_5_expert"]
    assert level.num_tasks == 64
    seen = set()
    for task in range(64):
        game = level.task(task).game
        combat = game.agent.on_use_handler is not None
        stock = tuple(sorted((k, tuple(sorted(v.inventory.initial.items()))) for k, v in game.objects.items()))
        kit = tuple(sorted(game.agent.inventory.initial.items()))
        seen.add((combat, stock, kit))
        assert combat == bool(task >> 5 & 1)
        assert level.task_variant(task)[1] == dict(kit)
    assert len(seen) == 64
    assert level.task_variant(0) == ({}, {}, False)  # the hardest task is the evaluation's game
    assert level.task_variant(63) == ({"mine": 3, "generator": 3, "altar": 3}, {"battery": 3}, True)
    assert level.evaluation("basic").game.agent.inventory.initial == {}  # evaluations never start with a kit
    with pytest.raises(ValueError, match="out of range"):
        level.task(64)


def test_a_kit_of_batteries_makes_hearts_reachable_for_a_random_policy():
    """Why the kits: a random policy earns several times more hearts where agents start with batteries."""
    level = LEVELS["level_5_expert"].model_copy(update={"max_steps": 300})
    rng = np.random.default_rng(0)
    hearts = {}
    for task in (0, 24):  # nothing / agents hold 3 batteries
        env = BatchedEnv(level, 2, seeds=[7, 8], sim_config=level.task(task).model_copy(deep=True))
        env._base.game.max_steps = 300
        done = []
        while len(done) < 2:
            done += env.step(rng.integers(0, 5, env.num_rows), restart=False)[1]
        hearts[task] = np.mean([e.hearts_per_agent for e in done])
        env.close()
    assert hearts[24] > 2 * max(hearts[0], 0.05), hearts


def test_curriculum_prefers_tasks_that_move_and_round_trips_state():
    level = LEVELS["level_5_expert"]
    cur = LearningProgressCurriculum(level.curriculum, level.num_tasks, seed=0)
    for i in range(200):
        cur.update(3, float(i) / 10)  # task 3 keeps improving
        cur.update(7, 1.0)  # task 7 is flat
    w = cur.weights()
    assert w[3] > w[7]
    assert w.sum() == pytest.approx(1.0) and (w > 0).sum() == level.curriculum.num_active_tasks
    clone = LearningProgressCurriculum(level.curriculum, level.num_tasks, seed=99)
    clone.load_state_dict(cur.state_dict())
    assert [clone.sample() for _ in range(20)] == [cur.sample() for _ in range(20)]


def test_curriculum_env_samples_tasks_and_learns_from_episodes():
    level = LEVELS["level_5_expert"].model_copy(update={"max_steps": 20})
    cur = LearningProgressCurriculum(level.curriculum, level.num_tasks, seed=0)
    env = BatchedEnv(level, 3, run_seed=0, curriculum=cur)
    rng = np.random.default_rng(0)
    tasks = set()
    for _ in range(100):
        _, finished = env.step(rng.integers(0, 5, env.num_rows))
        tasks.update(e.task for e in finished)
    assert cur.counts.sum() >= 12 and len(tasks) > 3
    env.close()


def test_last_reward_token_carries_the_steps_reward():
    env = BatchedEnv(LEVELS["level_1_basic"], 4, run_seed=0)
    fid = env.spec.feature_names.index("last_reward")
    rng = np.random.default_rng(0)
    seen = 0
    for _ in range(200):
        env.step(rng.integers(0, 5, env.num_rows))
        for row in np.flatnonzero(env.rewards > 0):
            tok = env.obs[row]
            value = tok[(tok[:, 1] == fid) & (tok[:, 0] == 0xFE), 2]
            assert value.tolist() == [min(255, round(env.rewards[row] * 100))]
            seen += 1
    assert seen > 0
    env.close()
