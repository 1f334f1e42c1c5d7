"""Level 5, expert: heart-only reward over a learning-progress curriculum of 64 task variants."""

from benchmark.levels.base import CurriculumConfig, LevelConfig
from benchmark.levels.economy import LARGE_ARENA, SCARCE_RECIPES

LEVEL = LevelConfig(
    name="level_5_expert",
    title="25x25, 24 agents, heart-only reward, curriculum of 64 variants",
    difficulty=5,
    width=25,
    height=25,
    num_agents=24,
    combat=True,
    rewards={"heart": 1.0},
    recipes=SCARCE_RECIPES,
    starting_stock={},
    buildings=LARGE_ARENA,
    evaluations=("basic", "combat"),
    curriculum=CurriculumConfig(),
    notes="Evaluation uses the base game (no pre-stocked buildings), with combat off and on.",
)
