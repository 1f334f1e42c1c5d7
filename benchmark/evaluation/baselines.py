"""The random baseline and the per-episode random streams the fixed baselines draw from."""

from __future__ import annotations

import numpy as np


class EpisodeRandom:
    """One generator per episode, each drawing a fixed block per step: an episode's random stream does not
    depend on how many episodes are played beside it, so episode k replays exactly in any batch (the reference
    scores are checked that way)."""

    def __init__(self, seed: int, episodes: int, agents: int):
        self.generators = [np.random.default_rng([seed, k]) for k in range(episodes)]
        self.agents = agents

    def uniform(self, *shape: int) -> np.ndarray:
        """[rows, *shape] uniforms in [0, 1), rows = episodes x agents."""
        return np.concatenate([g.random((self.agents, *shape)) for g in self.generators])


class RandomPolicy:
    """Uniform random actions from seeded per-episode generators: the scale's zero on every level."""

    def __init__(self, num_actions: int, seed: int, episodes: int = 1, agents: int = 1):
        self.num_actions = num_actions
        self.random = EpisodeRandom(seed, episodes, agents)

    def act(self, obs: np.ndarray, reset: np.ndarray) -> np.ndarray:
        return (self.random.uniform() * self.num_actions).astype(np.int64)
