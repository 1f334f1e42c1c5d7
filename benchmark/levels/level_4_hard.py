"""Level 4, hard: near-sparse reward; credit assignment and exploration."""

from benchmark.levels.base import LevelConfig
from benchmark.levels.economy import LARGE_ARENA, SCARCE_RECIPES

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
    recipes=SCARCE_RECIPES,
    starting_stock={"mine": 1},
    buildings=LARGE_ARENA,
    evaluations=("basic", "combat"),
)
