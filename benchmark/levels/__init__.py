"""The five benchmark levels, easy to expert, as a plain registry."""

from __future__ import annotations

from benchmark.errors import unknown_name
from benchmark.levels import level_1_basic, level_2_easy, level_3_medium, level_4_hard, level_5_expert
from benchmark.levels.base import CurriculumConfig, LevelConfig

LEVELS: dict[str, LevelConfig] = {
    m.LEVEL.name: m.LEVEL for m in (level_1_basic, level_2_easy, level_3_medium, level_4_hard, level_5_expert)
}


def get_level(name: str) -> LevelConfig:
    try:
        return LEVELS[name]
    except KeyError:
        raise KeyError(unknown_name("level", name, LEVELS)) from None


__all__ = ["LEVELS", "CurriculumConfig", "LevelConfig", "get_level"]
