"""Speed of every architecture on this machine, measured in one run, relative to `fast`.

For each architecture on one level (default level 1):
- parameters;
- inference agent-steps/s: `prepare` + policy forward (no grad) on a batch of `--rows` rows, one step at a
  time with the recurrent state carried, on real observations of random play;
- training agent-steps/s: a real `train()` of `--updates` PPO updates (`--rows` x `--bptt` agent steps
  each), end to end (environment, inference, learning), and its learning part alone;
- both relative to `fast`, which is always measured (after one untimed warm-up round).

    python benchmarks/architectures.py                          # everything, about 5 s + 4 updates each
    python benchmarks/architectures.py --architectures fast,vit --seconds 2 --updates 2 --json speeds.json

Numbers from a busy machine are not comparable: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("METTAGRID_LOG_LEVEL", "WARNING")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmark.architectures import ARCHITECTURES, get_architecture, load_architectures_module  # noqa: E402
from benchmark.levels import get_level  # noqa: E402
from benchmark.policy import Policy, count_parameters  # noqa: E402
from benchmark.training.config import TrainConfig  # noqa: E402
from benchmark.training.runtime import autocast, configure_threads, pick_precision  # noqa: E402
from benchmark.training.trainer import SUMMARY, train  # noqa: E402
from benchmark.training.vecenv import BatchedEnv  # noqa: E402

BASELINE = "fast"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--architectures", default="", help="comma-separated names (default: every registered one)")
    p.add_argument("--architectures-module", default=None, help="user module registering more architectures")
    p.add_argument("--level", default="level_1_basic", help="level to measure on")
    p.add_argument("--seconds", type=float, default=5.0, help="inference timing per architecture, in seconds")
    p.add_argument("--updates", type=int, default=4, help="PPO updates per training measurement (0: skip training)")
    p.add_argument("--rows", type=int, default=384, help="agents per batch (inference batch and training rows)")
    p.add_argument("--bptt", type=int, default=64, help="training segment length")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: every CPU this process may use)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"], help="as the trainer's")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    return p.parse_args(argv)


def collect_observations(level_name: str, rows: int, steps: int = 16) -> tuple[list[np.ndarray], object]:
    """Real token observations of random play for `rows` agents (whole simulations), and the spec."""
    level = get_level(level_name)
    sims = max(1, -(-rows // level.num_agents))
    env = BatchedEnv(level, sims, run_seed=12345, stagger=True)
    rng = np.random.default_rng(0)
    frames = []
    try:
        for _ in range(steps):
            frames.append(env.obs[:rows].copy())
            env.step(rng.integers(0, env.spec.num_actions, env.num_rows))
        return frames, env.spec
    finally:
        env.close()


@torch.no_grad()
def inference_sps(
    policy: Policy, frames: list[np.ndarray], seconds: float, precision: str = "auto", cpu_bf16: bool = False
) -> float:
    """Agent-steps/s of prepare + forward, one step at a time, state carried, after two warm-up steps, in
    the precision the trainer's rollout would use."""
    cpu = torch.device("cpu")
    with autocast(cpu, pick_precision(precision, cpu, cpu_bf16)):
        return _inference_sps(policy, frames, seconds)


def _inference_sps(policy: Policy, frames: list[np.ndarray], seconds: float) -> float:
    policy.eval()
    rows = frames[0].shape[0]
    tokens = [torch.from_numpy(f) for f in frames]
    reset = torch.zeros(rows, 1, dtype=torch.bool)
    state = policy.initial_state(rows)
    for i in range(2):
        _, state = policy(policy.prepare(tokens[i]).unsqueeze(1), reset | (i == 0), state)
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        x = policy.prepare(tokens[calls % len(tokens)]).unsqueeze(1)
        _, state = policy(x, reset, state)
        calls += 1
    return rows * calls / (time.perf_counter() - start)


def training_sps(name: str, args: argparse.Namespace) -> tuple[float, float]:
    """(end-to-end, learning-only) agent-steps/s of a real short training run."""
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(
            architecture=name,
            level=args.level,
            timesteps=args.updates * args.rows * args.bptt,
            rows=args.rows,
            bptt=args.bptt,
            threads=args.threads,
            precision=args.precision,
            checkpoint_seconds=1e9,
            log_seconds=1e9,
            out=Path(out),
            architectures_module=args.architectures_module,
        )
        result = train(cfg)
        learn = json.loads((Path(out) / SUMMARY).read_text())["timing"]["learn"]
    return result.sps, result.agent_steps / max(learn, 1e-9)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    if args.architectures_module:
        load_architectures_module(args.architectures_module)
    names = [n for n in args.architectures.split(",") if n] or list(ARCHITECTURES)
    for n in names:
        get_architecture(n)  # unknown names fail before anything is measured
    if BASELINE not in names:
        names.insert(0, BASELINE)
    threads = configure_threads(args.threads)
    frames, spec = collect_observations(args.level, args.rows)
    # one untimed round of the baseline first, so one-time costs (thread pools, allocator) land on no one
    base = get_architecture(BASELINE)
    inference_sps(Policy(base, spec), frames, min(args.seconds, 1.0), args.precision, base.hints.cpu_bf16)
    if args.updates > 0:
        training_sps(BASELINE, argparse.Namespace(**{**vars(args), "updates": 1}))
    rows = []
    for name in names:
        arch = get_architecture(name)
        torch.manual_seed(0)
        policy = Policy(arch, spec)
        row = {
            "architecture": name,
            "parameters": count_parameters(policy),
            "memory": arch.memory_kind,
            "inference_sps": inference_sps(policy, frames, args.seconds, args.precision, arch.hints.cpu_bf16),
        }
        if args.updates > 0:
            row["train_sps"], row["learn_sps"] = training_sps(name, args)
        rows.append(row)
        print(f"measured {name}", file=sys.stderr, flush=True)
    base = next(r for r in rows if r["architecture"] == BASELINE)
    for r in rows:
        for key in ("inference_sps", "train_sps", "learn_sps"):
            if key in r:
                r[key.replace("_sps", "_vs_fast")] = r[key] / base[key]
    print_table(rows, args, threads)
    if args.json:
        meta = {
            "level": args.level,
            "rows": args.rows,
            "bptt": args.bptt,
            "threads": threads,
            "torch": torch.__version__,
        }
        args.json.write_text(json.dumps({"settings": meta, "results": rows}, indent=2) + "\n")
    return rows


def print_table(rows: list[dict], args: argparse.Namespace, threads: int) -> None:
    print(
        f"\n{args.level}: inference batch {args.rows} rows x 1 step ({args.seconds:g} s each); training "
        f"{args.updates} updates of {args.rows} rows x {args.bptt} steps; {threads} torch threads; "
        f"torch {torch.__version__}\n"
    )
    head = ["architecture", "parameters", "memory", "inference sps", "x fast"]
    if args.updates > 0:
        head += ["train sps", "x fast", "learn-only sps", "x fast"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(" --- " for _ in head) + "|")
    for r in rows:
        cells = [r["architecture"], f"{r['parameters']:,}", r["memory"]]
        cells += [f"{r['inference_sps']:,.0f}", f"{r['inference_vs_fast']:.2f}"]
        if args.updates > 0:
            cells += [f"{r['train_sps']:,.0f}", f"{r['train_vs_fast']:.2f}"]
            cells += [f"{r['learn_sps']:,.0f}", f"{r['learn_vs_fast']:.2f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
