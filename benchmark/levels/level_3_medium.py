"""Level 3, medium: combat on (a laser steals a battery, armor blocks), sparse-ish shaping."""

from benchmark.levels.base import LevelConfig
from benchmark.levels.economy import LARGE_ARENA, SCARCE_RECIPES

LEVEL = LevelConfig(
    name="level_3_medium",
    title="25x25, 20 agents, combat on (laser cost 1), weak shaping",
    difficulty=3,
    width=25,
    height=25,
    num_agents=20,
    combat=True,
    laser_cost=1,
    rewards={"ore": 0.1, "battery": 0.3, "laser": 0.2, "armor": 0.2, "heart": 1.0},
    reward_caps={"ore": 1, "battery": 1, "laser": 1, "armor": 1},
    recipes=SCARCE_RECIPES,
    starting_stock={"mine": 1},
    buildings=LARGE_ARENA,
    evaluations=("basic", "combat"),
)
