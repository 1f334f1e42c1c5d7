"""Level 2, easy: a larger map, weaker shaping, a 3:1 altar and empty buildings."""

from benchmark.levels.base import LevelConfig
from benchmark.levels.economy import SCARCE_RECIPES

LEVEL = LevelConfig(
    name="level_2_easy",
    title="20x20, 16 agents, altar 3:1, buildings start empty, no combat",
    difficulty=2,
    width=20,
    height=20,
    num_agents=16,
    combat=False,
    rewards={"ore": 0.2, "battery": 0.7, "laser": 0.4, "armor": 0.4, "heart": 1.0},
    reward_caps={"ore": 1, "battery": 2, "laser": 1, "armor": 1},
    recipes=SCARCE_RECIPES,
    starting_stock={"mine": 1},
    buildings={"mine": 6, "generator": 3, "altar": 2, "lasery": 1, "armory": 1, "wall": 20},
    evaluations=("basic",),
    notes="Mines start with 1 ore (an empty mine would idle until the first regeneration).",
)
