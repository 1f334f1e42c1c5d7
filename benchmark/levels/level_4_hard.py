"""Level 4, hard: near-sparse reward; credit assignment and exploration."""

from benchmark.levels.base import LevelConfig

LEVEL = LevelConfig(
    name="level_4_hard",
    title="25x25, 24 agents, combat on, near-sparse reward",
    difficulty=4,
    width=25,
    height=25,
    num_agents=24,
    combat=True,
    rewards={"ore": 0.01, "battery": 0.05, "laser": 0.05, "armor": 0.05, "heart": 1.0},
    reward_caps={"ore": 1, "battery": 1, "laser": 1, "armor": 1},
    recipes={
        "generator": {"ore": 1},
        "altar": {"battery": 3},
        "lasery": {"ore": 1, "battery": 2},
        "armory": {"ore": 3},
    },
    starting_stock={"mine": 1},
    buildings={"mine": 8, "generator": 4, "altar": 3, "lasery": 2, "armory": 2, "wall": 30},
    evaluations=("basic", "combat"),
)
