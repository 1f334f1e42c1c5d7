"""Throughput on this machine, measured in one run: raw MettaGrid, the batched env, and `fast` training.

    python benchmarks/throughput.py [--level level_1_basic] [--seconds 10] [--train-steps 400000]

Raw MettaGrid is the plain public-API loop over the same number of simulations (`sim.step()` after
writing random actions, observations read in place); `c_sim.step()` alone is printed too. The batched
env is the project's `BatchedEnv` (shared buffers, episode restarts included). Training is a real
`train()` of `fast` (env + inference + PPO update) with the trainer's defaults, SPS from its own wall clock.

On a shared machine noise only ever slows a measurement down, and it drifts over a minute, so the four
measurements are taken in turn, `--repeats` rounds of all four, and each figure is its best round: every
ratio compares figures measured under the same conditions, none favoured.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("METTAGRID_LOG_LEVEL", "WARNING")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mettagrid.simulator import Simulator  # noqa: E402

from benchmark.cpus import available_cpus  # noqa: E402
from benchmark.levels import get_level  # noqa: E402
from benchmark.training.config import TrainConfig  # noqa: E402
from benchmark.training.trainer import train  # noqa: E402
from benchmark.training.vecenv import BatchedEnv, train_seed  # noqa: E402


def raw_mettagrid(level_name: str, sims: int, seconds: float, c_only: bool) -> float:
    level = get_level(level_name)
    made = [
        Simulator().new_simulation(level.with_map_seed(level.game(), train_seed(0, i, 0)), seed=i) for i in range(sims)
    ]
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i, sim in enumerate(made):
            c = sim._c_sim
            c.actions()[:] = rng.integers(0, 5, level.num_agents)
            if c_only:
                c.step()
            else:
                sim.step()
            if sim.is_done():
                sim.close()
                made[i] = Simulator().new_simulation(level.with_map_seed(level.game(), steps + i), seed=steps + i)
        steps += sims * level.num_agents
    return steps / (time.perf_counter() - start)


def batched(level_name: str, sims: int, seconds: float) -> float:
    env = BatchedEnv(get_level(level_name), sims, run_seed=0)
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(rng.integers(0, 5, env.num_rows))
        steps += env.num_rows
    env.close()
    return steps / (time.perf_counter() - start)


def training(level_name: str, architecture: str, steps: int, rows: int) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            level=level_name,
            architecture=architecture,
            timesteps=steps,
            out=Path(tmp),
            rows=rows,
            checkpoint_seconds=1e9,
            log_seconds=1e9,
        )
        result = train(cfg)
        import json

        summary = json.loads((Path(tmp) / "train_summary.json").read_text())
    return result.sps, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--level", default="level_1_basic")
    ap.add_argument("--architecture", default="fast")
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds per stepping measurement")
    ap.add_argument("--repeats", type=int, default=2, help="rounds of all four measurements; each figure: its best")
    ap.add_argument("--train-steps", type=int, default=300_000, help="agent steps of each training measurement")
    ap.add_argument("--rows", type=int, default=384, help="agents per batch (as the trainer's default)")
    args = ap.parse_args()
    level = get_level(args.level)
    sims = max(1, args.rows // level.num_agents)
    print(
        f"# {args.level}: {sims} simulations x {level.num_agents} agents, window {level.obs_window}, "
        f"{level.obs_tokens} tokens; {available_cpus()} CPUs, torch {torch.__version__}"
    )
    raw = raw_c = env = sps = 0.0
    summary: dict = {}
    for _ in range(args.repeats):
        raw = max(raw, raw_mettagrid(args.level, sims, args.seconds, c_only=False))
        raw_c = max(raw_c, raw_mettagrid(args.level, sims, args.seconds, c_only=True))
        env = max(env, batched(args.level, sims, args.seconds))
        round_sps, round_summary = training(args.level, args.architecture, args.train_steps, args.rows)
        if round_sps > sps:
            sps, summary = round_sps, round_summary
    timing = summary["timing"]
    total = sum(timing.values())
    print(f"{'measure':<42}{'agent-steps/s':>15}{'vs raw':>9}{'vs c_sim':>10}")
    for name, value in [
        ("raw MettaGrid (sim.step, public API)", raw),
        ("raw MettaGrid (c_sim.step only)", raw_c),
        ("batched env (BatchedEnv.step)", env),
        (f"training {args.architecture} (env+infer+learn)", sps),
    ]:
        print(f"{name:<42}{value:>15,.0f}{value / raw:>9.1%}{value / raw_c:>10.1%}")
    split = ", ".join(f"{k} {v / total:.0%}" for k, v in timing.items())
    print(f"training time split: {split}; precision {summary['precision']}, {summary['threads']} threads")
    print(
        f"targets: batched env >= 90% of raw: {'PASS' if env >= 0.9 * raw else 'FAIL'}; "
        f"{args.architecture} training >= 25% of raw: {'PASS' if sps >= 0.25 * raw else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
