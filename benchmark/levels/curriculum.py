"""Learning-progress task sampling (bidirectional), for the expert level's 64 task variants.

Each task keeps a fast and a slow exponential average of its episode score; learning progress is
|fast - slow| (it counts getting worse as much as getting better). Episodes go to a uniformly random
task with probability `rand_task_rate`, else to one of the `num_active_tasks` tasks with the most
progress (plus an exploration bonus that favours rarely tried tasks), in proportion to that progress.
Averages are bias-corrected (the rate is at least 1/count), so early scores are plain means.
"""

from __future__ import annotations

import numpy as np

from benchmark.levels.base import CurriculumConfig


class LearningProgressCurriculum:
    def __init__(self, config: CurriculumConfig, num_tasks: int, seed: int):
        self.config = config
        self.num_tasks = num_tasks
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC0FFEE]))
        self.fast = np.zeros(num_tasks)
        self.slow = np.zeros(num_tasks)
        self.counts = np.zeros(num_tasks, dtype=np.int64)

    def progress(self) -> np.ndarray:
        return np.abs(self.fast - self.slow)

    def weights(self) -> np.ndarray:
        """Sampling probability of each task for the non-random share of episodes."""
        c = self.config
        score = self.progress() + c.exploration_bonus / np.sqrt(1.0 + self.counts)
        active = np.argsort(-score, kind="stable")[: c.num_active_tasks]
        w = np.zeros(self.num_tasks)
        w[active] = score[active]
        total = w.sum()
        if total <= 0:
            w[active] = 1.0
            total = float(len(active))
        return w / total

    def sample(self) -> int:
        if self.rng.random() < self.config.rand_task_rate:
            return int(self.rng.integers(self.num_tasks))
        return int(self.rng.choice(self.num_tasks, p=self.weights()))

    def update(self, task: int, score: float) -> None:
        self.counts[task] += 1
        n = self.counts[task]
        fast_rate = max(self.config.fast_timescale, 1.0 / n)
        slow_rate = max(self.config.ema_timescale, 1.0 / n)
        self.fast[task] += fast_rate * (score - self.fast[task])
        self.slow[task] += slow_rate * (score - self.slow[task])

    def state_dict(self) -> dict:
        return {
            "fast": self.fast.tolist(),
            "slow": self.slow.tolist(),
            "counts": self.counts.tolist(),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        self.fast = np.asarray(state["fast"], dtype=np.float64)
        self.slow = np.asarray(state["slow"], dtype=np.float64)
        self.counts = np.asarray(state["counts"], dtype=np.int64)
        self.rng.bit_generator.state = state["rng"]
