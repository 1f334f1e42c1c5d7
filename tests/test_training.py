"""Every architecture trains on every level for a short budget, without error and with finite losses.

The default suite trains each architecture on level 1 (a few seconds in all); the full grid of
architectures x levels is marked slow.
"""

import json
import math

import pytest

from benchmark.architectures import ARCHITECTURES
from benchmark.levels import LEVELS
from benchmark.training.config import TrainConfig
from benchmark.training.trainer import METRICS, train

LOSSES = ("policy_loss", "value_loss", "entropy", "approx_kl")


def short_run(tmp_path, architecture: str, level: str, updates: int = 2, bptt: int = 8) -> list[dict]:
    out = tmp_path / f"{architecture}-{level}"
    agents = LEVELS[level].num_agents
    result = train(
        TrainConfig(
            architecture=architecture,
            level=level,
            timesteps=updates * agents * bptt,
            num_sims=1,
            bptt=bptt,
            minibatches=2,
            checkpoint_seconds=3600,
            log_seconds=1e-3,
            threads=1,
            out=out,
        )
    )
    assert result.agent_steps >= updates * agents * bptt
    lines = [json.loads(line) for line in (out / METRICS).read_text().splitlines()]
    assert lines, "no metrics were written"
    for line in lines:
        for key in LOSSES:
            assert math.isfinite(line[key]), f"{architecture} on {level}: {key} = {line[key]}"
    return lines


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_every_architecture_trains_on_level_1(tmp_path, architecture):
    lines = short_run(tmp_path, architecture, "level_1_basic")
    hinted = TrainConfig().settings(ARCHITECTURES[architecture].hints)["learning_rate"]
    assert lines[0]["learning_rate"] == pytest.approx(hinted), "the architecture's learning-rate hint applies"
    if ARCHITECTURES[architecture].heads.dynamics:
        assert all(math.isfinite(line["aux_loss"]) and line["aux_loss"] > 0 for line in lines)
    else:
        assert all("aux_loss" not in line for line in lines)


@pytest.mark.slow
@pytest.mark.parametrize("level", [name for name in LEVELS if name != "level_1_basic"])
@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_every_architecture_trains_on_every_level(tmp_path, architecture, level):
    short_run(tmp_path, architecture, level, updates=3, bptt=16)
