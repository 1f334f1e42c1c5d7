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
    notes="Evaluation uses the base game (no pre-stocked buildings, no starting kit), with combat off and on. "
    "The 64 curriculum tasks vary along the heart chain: which of mine, generator and altar start with 3 items, "
    "what agents start holding (nothing, 3 ore, 1 or 3 batteries), combat off or on. The reference's variants "
    "(each of the five buildings starting with 0 or 1 item) left `fast` at 0.72x random hearts after 5M agent "
    "steps: one item per building changes almost nothing, and a random policy earns about 0.2 hearts per agent "
    "per episode; with batteries in hand it earns several times more, so the easy tasks give a learnable signal.",
)
