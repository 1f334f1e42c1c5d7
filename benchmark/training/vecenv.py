"""Many MettaGrid simulations stepped in one process, writing straight into one batch.

On 2 cores, subprocess vector envs busy-spin and collapse; here every simulation's C++ core writes its
observations, rewards and flags into a slice of shared numpy buffers (`set_buffers`), so a step is a
loop of `c_sim.step()` calls with no copies. A finished simulation is replaced by a new one (a new map
and seed) writing into the same slice.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np

os.environ.setdefault("METTAGRID_LOG_LEVEL", "WARNING")

from mettagrid.config.mettagrid_config import MettaGridConfig  # noqa: E402
from mettagrid.mettagrid_c import (  # noqa: E402
    dtype_actions,
    dtype_observations,
    dtype_rewards,
    dtype_terminals,
    dtype_truncations,
)
from mettagrid.simulator import Simulator  # noqa: E402

from benchmark.components.base import ObsSpec  # noqa: E402
from benchmark.levels.base import LevelConfig  # noqa: E402
from benchmark.levels.curriculum import LearningProgressCurriculum  # noqa: E402

EVAL_SEED_BASE = 1 << 30  # evaluation seeds live at and above this; training seeds below it
RESOURCE_STATS = ("ore", "battery", "laser", "armor", "heart")
# what agents do besides gaining resources, from MettaGrid's per-agent episode statistics (per agent per episode)
BEHAVIOUR_STATS = {
    "idle_steps": "action.noop.success",
    "wall_bumps": "action.move.failed",
    "moves": "action.move.success",
    "failed_actions": "action.failed",
    "cells_visited": "cell.unique_visited",
    "ore_lost": "ore.lost",
    "battery_lost": "battery.lost",
    "steps_without_motion": "status.max_steps_without_motion",
}


def combat_stats(stats: list[dict[str, float]], laser_cost: int) -> dict[str, float]:
    """Shots fired and batteries stolen per agent per episode. MettaGrid counts neither, but a shot (a bump into
    an agent with a laser in hand, `economy.combat_handler`) always spends `laser_cost` lasers and either costs
    the target one armor or steals one battery, and nothing else spends a laser or an armor: so shots are the
    lasers lost / laser_cost, and thefts the shots less the armor lost."""
    shots = float(np.mean([s.get("laser.lost", 0.0) for s in stats])) / laser_cost
    absorbed = float(np.mean([s.get("armor.lost", 0.0) for s in stats]))
    return {"shots_fired": shots, "batteries_stolen": max(shots - absorbed, 0.0)}


def train_seed(run_seed: int, slot: int, episode: int) -> int:
    """Map and simulation seed of a training episode: a function of the run seed, always < 2**30."""
    return int(np.random.SeedSequence([run_seed, slot, episode]).generate_state(1)[0]) % EVAL_SEED_BASE


def eval_seed(episode: int) -> int:
    """Seed of evaluation episode k: the same for every run and policy, disjoint from training seeds."""
    return EVAL_SEED_BASE + episode


@dataclass(frozen=True)
class EpisodeResult:
    slot: int
    seed: int
    task: int
    steps: int
    reward_per_agent: float
    hearts_per_agent: float
    gained_per_agent: dict[str, float]
    warmup: bool  # a shortened first episode used to stagger simulations: excluded from metrics
    behaviour_per_agent: dict[str, float] = field(default_factory=dict)  # BEHAVIOUR_STATS


def _quiet_mettagrid() -> None:
    # Importing mettagrid sets the root logger to INFO; keep our output readable.
    logging.getLogger().setLevel(logging.WARNING)


GLOBAL_SLOTS = 8  # observation slots searched first for global tokens
# MettaGrid's `last_reward` token is a uint8: it cannot carry a negative reward (a conversion that costs more
# reward than it pays, a stolen battery). A negative reward is written as this extra global feature instead,
# value = -reward at last_reward's scale, in the row's first padding slot.
PENALTY_FEATURE = "last_penalty"
COUNT_SCALE = 8.0  # an inventory or recipe count of 8 is an input of 1


def feature_encoding(
    names: tuple[str, ...], normalizations: tuple[float, ...], *, tags: int, actions: int, vibes: int, value_base: int
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Per feature: categories (0 = scalar) and scalar scale; see `ObsSpec` for why.

    Ids are one-hot: object tags, the last action, the agent's group and vibe. Counts (`inv:*`,
    `protocol_*`) are scaled by COUNT_SCALE; their `:pN` digit features hold multiples of value_base**N.
    Everything else keeps MettaGrid's normalisation.
    """
    ids = {"tag": tags, "last_action": actions, "vibe": max(vibes, 1)}
    categories, scales = [], []
    for name, norm in zip(names, normalizations, strict=True):
        # groups have no count to hand: MettaGrid's normalisation bounds the id
        categories.append(ids.get(name, max(int(norm), 1) if name == "agent:group" else 0))
        if name.startswith(("inv:", "protocol_")):
            digit = name.rsplit(":p", 1)[1] if ":p" in name else "0"
            scales.append(value_base ** int(digit) / COUNT_SCALE if digit.isdigit() else 1.0 / COUNT_SCALE)
        else:
            scales.append(1.0 / max(norm, 1.0))
    return tuple(categories), tuple(scales)


class BatchedEnv:
    """`num_sims` simulations of one level; rows are agents (sim-major), all sharing one policy."""

    def __init__(
        self,
        level: LevelConfig,
        num_sims: int,
        seeds: list[int] | None = None,
        *,
        run_seed: int = 0,
        stagger: bool = False,
        curriculum: LearningProgressCurriculum | None = None,
        sim_config: MettaGridConfig | None = None,
        episode_offset: int = 0,
        slot_offset: int = 0,
        total_sims: int | None = None,
        tasks: list[int] | None = None,
    ):
        """Training: seeds derive from `run_seed`; evaluation: pass explicit `seeds`, one per simulation.

        `sim_config` replaces the level's training game (an evaluation simulation); `curriculum` samples
        each new episode's task; `stagger` shortens each simulation's first episode by a different amount
        so batches do not all cover the same phase of an episode.
        An environment worker holds slots `slot_offset ..` of `total_sims` (seeds and staggering are those of
        the global slots) and is told each episode's task (`tasks` for the first episodes, then `start`).
        """
        _quiet_mettagrid()
        if num_sims < 1:
            raise ValueError(f"num_sims must be >= 1, got {num_sims}")
        if seeds is not None and len(seeds) != num_sims:
            raise ValueError(f"{len(seeds)} seeds for {num_sims} simulations")
        self.level = level
        self.num_sims = num_sims
        self.agents = level.num_agents
        self.num_rows = num_sims * self.agents
        self.run_seed = run_seed
        self.curriculum = curriculum
        self.fixed_seeds = seeds
        self.slot_offset = slot_offset
        self.episodes = [episode_offset] * num_sims  # per-slot count of episodes started
        self._base = sim_config if sim_config is not None else level.game()
        self._task_cfgs: dict[int, MettaGridConfig] = {}
        k = level.obs_tokens
        self.obs = np.zeros((self.num_rows, k, 3), dtype=dtype_observations)
        self.terminals = np.zeros(self.num_rows, dtype=dtype_terminals)
        self.truncations = np.zeros(self.num_rows, dtype=dtype_truncations)
        self.rewards = np.zeros(self.num_rows, dtype=dtype_rewards)
        # the step's rewards, kept apart: a restart's `set_buffers` zeroes its slice of `self.rewards`
        self.step_rewards = np.zeros(self.num_rows, dtype=dtype_rewards)
        self.actions = np.zeros(self.num_rows, dtype=dtype_actions)
        self._vibe = np.zeros(self.num_rows, dtype=dtype_actions)
        self._sims: list = [None] * num_sims
        self._simulators = [Simulator() for _ in range(num_sims)]
        self._tasks = [0] * num_sims
        self._seeds = [0] * num_sims
        self._warmup = [False] * num_sims
        total = total_sims or num_sims
        for slot in range(num_sims):
            steps = None
            if stagger and total > 1:
                steps = max(1, level.max_steps * (slot_offset + slot + 1) // total)
            self._start(slot, max_steps=steps, task=tasks[slot] if tasks is not None else None)
        self.spec = self._make_spec()
        names = self.spec.feature_names
        self._reward_feature = names.index("last_reward") if "last_reward" in names else None
        self._reward_scale = self.spec.normalizations[self._reward_feature] if self._reward_feature is not None else 0
        self._penalty_feature = names.index(PENALTY_FEATURE) if PENALTY_FEATURE in names else None

    # ---- episodes ------------------------------------------------------------------------------

    def _config_for(self, slot: int, seed: int, task: int | None = None) -> tuple[MettaGridConfig, int]:
        base = self._base
        if task is None and self.curriculum is not None:
            task = self.curriculum.sample()
        if task is None:
            task = 0
        elif self.level.curriculum is not None:
            if task not in self._task_cfgs:
                self._task_cfgs[task] = self.level.task(task)
            base = self._task_cfgs[task]
        return self.level.with_map_seed(base, seed), task

    def start(self, slot: int, task: int) -> None:
        """Start slot's next episode on a given task (an environment worker: the trainer's curriculum chose it)."""
        self._start(slot, task=task)

    def _start(self, slot: int, max_steps: int | None = None, task: int | None = None) -> None:
        episode = self.episodes[slot]
        seed = (
            self.fixed_seeds[slot] + episode
            if self.fixed_seeds is not None
            else train_seed(self.run_seed, self.slot_offset + slot, episode)
        )
        cfg, task = self._config_for(slot, seed, task)
        if max_steps is not None and max_steps < cfg.game.max_steps:
            cfg.game.max_steps = max_steps
        self._warmup[slot] = max_steps is not None and max_steps < self.level.max_steps
        old = self._sims[slot]
        if old is not None:
            old.close()
        sim = self._simulators[slot].new_simulation(cfg, seed=seed)
        rows = slice(slot * self.agents, (slot + 1) * self.agents)
        sim._c_sim.set_buffers(
            self.obs[rows],
            self.terminals[rows],
            self.truncations[rows],
            self.rewards[rows],
            self.actions[rows],
            self._vibe[rows],
        )
        self._sims[slot] = sim
        self._tasks[slot] = task
        self._seeds[slot] = seed
        self.episodes[slot] = episode + 1

    def _finish(self, slot: int) -> EpisodeResult:
        c = self._sims[slot]._c_sim
        stats = c.get_episode_stats()["agent"]
        rewards = np.asarray(c.get_episode_rewards(), dtype=np.float64)
        gained = {r: float(np.mean([s.get(f"{r}.gained", 0.0) for s in stats])) for r in RESOURCE_STATS}
        result = EpisodeResult(
            slot=slot,
            seed=self._seeds[slot],
            task=self._tasks[slot],
            steps=int(c.current_step),
            reward_per_agent=float(rewards.mean()),
            hearts_per_agent=gained["heart"],
            gained_per_agent=gained,
            warmup=self._warmup[slot],
            behaviour_per_agent={k: float(np.mean([s.get(v, 0.0) for s in stats])) for k, v in BEHAVIOUR_STATS.items()}
            | combat_stats(stats, self.level.laser_cost),
        )
        if self.curriculum is not None and not result.warmup:
            self.curriculum.update(result.task, result.reward_per_agent)
        return result

    def _make_spec(self) -> ObsSpec:
        sim = self._sims[0]
        features = sorted(sim.features, key=lambda f: f.id)
        if [f.id for f in features] != list(range(len(features))):
            raise ValueError("MettaGrid feature ids are not contiguous; cannot build a feature table")
        names = tuple(f.name for f in features)
        norms = tuple(float(f.normalization) for f in features)
        if "last_reward" in names:  # our own feature, after MettaGrid's ids: see PENALTY_FEATURE
            names += (PENALTY_FEATURE,)
            norms += (norms[names.index("last_reward")],)
        game = sim.config.game
        categories, scales = feature_encoding(
            names,
            norms,
            tags=len(game.id_map().tag_names()),
            actions=len(sim.action_names),
            vibes=len(sim.vibe_action_names),
            value_base=int(game.obs.token_value_base),
        )
        return ObsSpec(
            feature_names=names,
            normalizations=norms,
            window=self.level.obs_window,
            num_tokens=self.level.obs_tokens,
            num_actions=len(sim.action_names),
            categories=categories,
            scales=scales,
        )

    # ---- stepping -----------------------------------------------------------------------------

    @property
    def parts(self) -> list[slice]:
        """Row blocks that step independently (`step_async` / `step_wait`): one here, in one process."""
        return [slice(0, self.num_rows)]

    def step_async(self, actions: np.ndarray, part: int = 0) -> None:
        self._pending = actions  # stepped (and copied into the simulations' buffer) by step_wait

    def step_wait(self, part: int = 0) -> tuple[np.ndarray, list[EpisodeResult]]:
        return self.step(self._pending)

    def step(self, actions: np.ndarray, *, restart: bool = True) -> tuple[np.ndarray, list[EpisodeResult]]:
        """Apply `actions` (one per row), step every simulation; return done flags per row and the
        episodes that ended. The step's rewards are in `self.step_rewards` (read that, not `self.rewards`:
        a restart zeroes the restarted slice). With `restart`, ended simulations start their next episode
        at once, so `self.obs` already holds the first observation of the new episode for those rows."""
        self.actions[:] = actions
        finished: list[EpisodeResult] = []
        for sim in self._sims:
            sim._c_sim.step()
        self._write_last_reward()
        np.copyto(self.step_rewards, self.rewards)
        done = self.terminals | self.truncations
        if done.any():
            per_sim = done.reshape(self.num_sims, self.agents)
            for slot in np.flatnonzero(per_sim.all(axis=1)):
                finished.append(self._finish(int(slot)))
                if restart:
                    self._start(int(slot))
        return done, finished

    def _write_last_reward(self) -> None:
        """MettaGrid 0.26.22 emits the `last_reward` global token but always with value 0 (its rewards are
        computed after observations are written): fill in the step's reward, scaled by the feature's
        normalisation and clipped to a byte, so policies really see it. A negative reward leaves
        `last_reward` at 0 and adds a `last_penalty` token holding its magnitude."""
        if self._reward_feature is None:
            return
        tokens = self.obs
        # MettaGrid writes the global tokens first: look there (15x cheaper), the whole row only if one is missing
        head = tokens[:, :GLOBAL_SLOTS]
        rows, cols = np.nonzero((head[:, :, 1] == self._reward_feature) & (head[:, :, 0] == 0xFE))
        if len(rows) != len(tokens):
            rows, cols = np.nonzero((tokens[:, :, 1] == self._reward_feature) & (tokens[:, :, 0] == 0xFE))
        value = np.clip(np.rint(self.rewards[rows] * self._reward_scale), 0, 255)
        tokens[rows, cols, 2] = value.astype(tokens.dtype)
        if self._penalty_feature is None:
            return
        negative = np.flatnonzero(self.rewards < 0)
        if len(negative):
            free = tokens[negative, :, 0] == 0xFF
            has_free = free.any(axis=1)  # a row with every slot used (never seen: 30-60 of 200) goes without
            rows, slots = negative[has_free], free[has_free].argmax(axis=1)
            value = np.clip(np.rint(-self.rewards[rows] * self._reward_scale), 1, 255)
            tokens[rows, slots, 0] = 0xFE
            tokens[rows, slots, 1] = self._penalty_feature
            tokens[rows, slots, 2] = value.astype(tokens.dtype)

    def close(self) -> None:
        for sim in self._sims:
            if sim is not None:
                sim.close()
        self._sims = [None] * self.num_sims
