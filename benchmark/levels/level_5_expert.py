"""Level 5, expert: heart-only reward over a learning-progress curriculum of 64 task variants."""

from benchmark.levels.base import CurriculumConfig, LevelConfig

LEVEL = LevelConfig(
    name="level_5_expert",
    title="25x25, 24 agents, heart-only reward, curriculum of 64 variants",
    difficulty=5,
    width=25,
    height=25,
    num_agents=24,
    combat=True,
    rewards={"heart": 1.0},
    recipes={
        "generator": {"ore": 1},
        "altar": {"battery": 3},
        "lasery": {"ore": 1, "battery": 2},
        "armory": {"ore": 3},
    },
    starting_stock={},
    buildings={"mine": 8, "generator": 4, "altar": 3, "lasery": 2, "armory": 2, "wall": 30},
    evaluations=("basic", "combat"),
    curriculum=CurriculumConfig(),
    notes="Evaluation uses the base game (no pre-stocked buildings), with combat off and on.",
)
