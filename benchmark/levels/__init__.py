"""The five benchmark levels, easy to expert, as a plain registry."""

from __future__ import annotations

from benchmark.levels import level_1_basic, level_2_easy, level_3_medium, level_4_hard, level_5_expert
from benchmark.levels.base import CurriculumConfig, LevelConfig

LEVELS: dict[str, LevelConfig] = {
    m.LEVEL.name: m.LEVEL for m in (level_1_basic, level_2_easy, level_3_medium, level_4_hard, level_5_expert)
}


def get_level(name: str) -> LevelConfig:
    try:
        return LEVELS[name]
    except KeyError:
        raise KeyError(f"unknown level {name!r}; valid: {', '.join(LEVELS)}") from None


__all__ = ["LEVELS", "CurriculumConfig", "LevelConfig", "get_level"]
