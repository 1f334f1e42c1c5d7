"""MettaScope replays of evaluation episodes, written by MettaGrid's own replay writer (format version 4).

The evaluator steps the C++ simulations itself (`BatchedEnv`), so no simulator event handler runs: the
recorders here are driven from its loop, one `EpisodeReplay` per recorded episode, logged after every step
until the episode ends, then written as zlib-compressed JSON (`.json.z`), a file MettaScope opens unchanged.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from mettagrid.simulator.replay_log_writer import EpisodeReplay

from benchmark.atomic import atomic_target
from benchmark.training.vecenv import BatchedEnv, EpisodeResult

REPLAY_FORMAT = 4  # MettaGrid 0.26.22's REPLAY_FORMAT_VERSION (mettascope's replays.nim)
REPLAY_SUFFIX = ".json.z"


def replay_folder(output: Path) -> Path:
    """Replays sit beside the evaluation's output: run/eval.json -> run/eval.replays/."""
    return output.with_name(output.stem + ".replays")


def mettagrid_version() -> str:
    try:
        return importlib.metadata.version("mettagrid")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Recorders:
    """One replay per recorded slot (the first `count` simulations of the batch), from its first step."""

    def __init__(self, env: BatchedEnv, count: int):
        self.env = env
        self.replays = {slot: EpisodeReplay(env._sims[slot]) for slot in range(count)}

    def has(self, slot: int) -> bool:
        return slot in self.replays

    def log(self, ended: dict[int, EpisodeResult]) -> None:
        """After a step: every recorded episode that had not ended before it logs the step."""
        for slot, replay in self.replays.items():
            if slot not in ended:
                sim = self.env._sims[slot]
                replay.log_step(sim.current_step, sim._c_sim.actions(), sim._c_sim.rewards())

    def write(self, slot: int, path: Path) -> str:
        with atomic_target(path) as partial:  # keeps the .json.z suffix: the writer picks compression by it
            self.replays.pop(slot).write_replay(str(partial))
        return str(path)
