"""Shared helpers for the architecture tests: real observations and rollout vs sequence runs."""

from __future__ import annotations

import numpy as np
import torch
from tensordict import TensorDict

from benchmark.components.base import ObsSpec
from benchmark.levels import LEVELS
from benchmark.policy import Policy
from benchmark.training.vecenv import BatchedEnv


def collect_tokens(
    steps: int, num_sims: int = 2, seed: int = 0, level: str = "level_1_basic"
) -> tuple[torch.Tensor, ObsSpec]:
    """Real observations of random play: tokens [rows, steps, K, 3] uint8 and the environment's spec."""
    env = BatchedEnv(LEVELS[level], num_sims, run_seed=seed)
    rng = np.random.default_rng(seed)
    frames = []
    try:
        for _ in range(steps):
            frames.append(env.obs.copy())
            env.step(rng.integers(0, env.spec.num_actions, env.num_rows))
        return torch.from_numpy(np.stack(frames, axis=1)), env.spec
    finally:
        env.close()


def prepare(policy: Policy, tokens: torch.Tensor) -> torch.Tensor:
    """[B, T, K, 3] tokens -> the policy's [B, T, ...] input."""
    b, t = tokens.shape[:2]
    x = policy.prepare(tokens.flatten(0, 1))
    return x.view(b, t, *x.shape[1:])


@torch.no_grad()
def run_sequence(policy: Policy, x: torch.Tensor, reset: torch.Tensor, state: TensorDict):
    """One call over the whole sequence (training): logits [B, T, A], values [B, T], new state."""
    b, t = reset.shape
    out, new = policy(x, reset, state)
    return out["logits"].view(b, t, -1), out["value"].view(b, t), new


@torch.no_grad()
def run_steps(policy: Policy, x: torch.Tensor, reset: torch.Tensor, state: TensorDict):
    """One call per step (data collection): logits [B, T, A], values [B, T], new state."""
    logits, values = [], []
    for t in range(reset.shape[1]):
        out, state = policy(x[:, t : t + 1], reset[:, t : t + 1], state)
        logits.append(out["logits"])
        values.append(out["value"])
    return torch.stack(logits, 1), torch.stack(values, 1), state


def random_state(state: TensorDict, seed: int) -> TensorDict:
    """A state unlike any real one: random floats, every memory slot valid, arbitrary step counters."""
    gen = torch.Generator().manual_seed(seed)

    def fill(x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.bool:
            return torch.ones_like(x)
        if x.is_floating_point():
            return torch.randn(x.shape, generator=gen, dtype=x.dtype)
        return torch.randint(0, 500, x.shape, generator=gen, dtype=x.dtype)

    return state.apply(fill)
