"""Can an encoder represent a good policy? Behaviour cloning of the scripted expert, per architecture.

    python benchmarks/imitation.py [--architectures fast,vit] [--level level_1_basic] [--steps 1500]

A diagnostic for architectures that do not learn under PPO: it separates "the encoder cannot represent the
policy (or learns it slowly)" from "the RL signal does not reach it". It records the scripted expert's
(observation, action) pairs on training-seed episodes, then trains each architecture's encoder and heads
(memory left out: one step at a time) by cross-entropy, and prints held-out action accuracy as it goes. A
uniform guess scores about 0.25 (the expert never idles).

Measured 2026-11-28 (2 cores, shared): `fast` 0.81 after 300 steps, `vit` 0.80 after 300 and 0.84 after 1,500:
the perceiver encoder represents the expert as well and as fast as the CNN, so its slow PPO learning on level 1
is not a capacity problem (docs/calibration.md).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmark.architectures import ARCHITECTURES
from benchmark.evaluation.baselines import EpisodeRandom
from benchmark.evaluation.scripted import ScriptedPolicy
from benchmark.levels import get_level
from benchmark.policy import ArchitectureConfig, Policy
from benchmark.training.vecenv import BatchedEnv


def expert_data(level_name: str, episodes: int, steps: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, object]:
    """Every other step's (tokens, expert action) after the first 100 steps, on training seeds."""
    level = get_level(level_name)
    env = BatchedEnv(level, episodes, seeds=[seed * 1000 + k for k in range(episodes)])
    try:
        expert = ScriptedPolicy(level, env.spec, EpisodeRandom(seed, episodes, env.agents))
        reset = np.ones(env.num_rows, dtype=bool)
        obs, actions = [], []
        for t in range(steps):
            action = expert.act(env.obs, reset)
            if t >= 100 and t % 2 == 0:
                obs.append(env.obs.copy())
                actions.append(action.copy())
            env.step(action, restart=False)
            reset[:] = False
        return torch.from_numpy(np.concatenate(obs)), torch.from_numpy(np.concatenate(actions)), env.spec
    finally:
        env.close()


def accuracy(policy: Policy, x: torch.Tensor, y: torch.Tensor) -> float:
    hits = 0.0
    with torch.no_grad():
        for i in range(0, len(x), 1024):
            xb = x[i : i + 1024]
            reset = torch.ones(len(xb), 1, dtype=torch.bool)
            out, _ = policy(xb.unsqueeze(1), reset, policy.initial_state(len(xb)))
            hits += float((out["logits"].argmax(-1) == y[i : i + 1024]).sum())
    return hits / len(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--architectures", default="fast,vit")
    ap.add_argument("--level", default="level_1_basic")
    ap.add_argument("--episodes", type=int, default=8, help="expert episodes recorded at once")
    ap.add_argument("--record-steps", type=int, default=600, help="steps recorded per episode")
    ap.add_argument("--steps", type=int, default=1500, help="gradient steps per architecture")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    obs, actions, spec = expert_data(args.level, args.episodes, args.record_steps, seed=7)
    order = torch.randperm(len(obs), generator=torch.Generator().manual_seed(0))
    train_idx, test_idx = order[: int(0.85 * len(obs))], order[int(0.85 * len(obs)) :]
    share = np.bincount(actions.numpy(), minlength=spec.num_actions) / len(actions)
    print(f"{len(obs):,} expert samples on {args.level}; action shares {np.round(share, 3).tolist()}", flush=True)
    for name in [a.strip() for a in args.architectures.split(",") if a.strip()]:
        arch = ARCHITECTURES[name]
        torch.manual_seed(0)
        policy = Policy(ArchitectureConfig(description=name, encoder=arch.encoder, heads=arch.heads), spec)
        optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
        x = policy.prepare(obs)
        state = policy.initial_state(args.batch)
        reset = torch.ones(args.batch, 1, dtype=torch.bool)
        start, points = time.time(), []
        for step in range(1, args.steps + 1):
            batch = train_idx[torch.randint(len(train_idx), (args.batch,))]
            out, _ = policy(x[batch].unsqueeze(1), reset, state)
            loss = torch.nn.functional.cross_entropy(out["logits"], actions[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % max(args.steps // 5, 1) == 0:
                points.append(f"{step}: {accuracy(policy, x[test_idx], actions[test_idx]):.3f}")
        print(f"{name}: held-out accuracy after {', '.join(points)} steps ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
