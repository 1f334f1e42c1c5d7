"""Level 1, basic: a small dense arena, generous shaping, every building pre-stocked, no combat."""

from benchmark.levels.base import LevelConfig

LEVEL = LevelConfig(
    name="level_1_basic",
    title="15x15, 12 agents, dense shaping, buildings start with 2 items, no combat",
    difficulty=1,
    width=15,
    height=15,
    num_agents=12,
    combat=False,
    rewards={"ore": 0.5, "battery": 0.9, "laser": 0.7, "armor": 0.7, "heart": 1.0},
    reward_caps={"ore": 2, "battery": 2, "laser": 2, "armor": 2},
    recipes={
        "generator": {"ore": 1},
        "altar": {"battery": 1},
        "lasery": {"ore": 1, "battery": 1},
        "armory": {"ore": 1},
    },
    starting_stock={"mine": 2, "generator": 2, "altar": 2, "lasery": 2, "armory": 2},
    buildings={"mine": 4, "generator": 2, "altar": 2, "lasery": 1, "armory": 1, "wall": 10},
    evaluations=("basic",),
    notes="At most 2 items of each kind pay (the reference's 'capped at 2'): holding more earns nothing, "
    "so surplus ore and batteries are worth converting on towards hearts.",
)
