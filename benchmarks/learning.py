"""Does `fast` learn level 1? Train on a fixed budget, then evaluate trained vs random on the same episodes.

    python benchmarks/learning.py [--timesteps 2000000] [--episodes 32] [--seed 0] [--out results/learning]

Prints the budget, wall time, and trained / random reward and hearts per agent with their ratios
(the foundation's bar: at least 2x the random reward and 3x the random hearts per agent).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmark.evaluation.evaluator import evaluate
from benchmark.training.config import TrainConfig
from benchmark.training.trainer import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--level", default="level_1_basic")
    ap.add_argument("--architecture", default="fast")
    ap.add_argument("--timesteps", type=int, default=2_000_000)
    ap.add_argument("--episodes", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--minibatches", type=int, default=12, help="best found so far (trainer default: 4)")
    ap.add_argument("--learning-rate", type=float, default=None)
    ap.add_argument("--epochs", type=int, default=2, help="best found so far (trainer default: 1)")
    ap.add_argument("--rows", type=int, default=None, help="agents per batch (trainer default 384)")
    ap.add_argument("--out", type=Path, default=Path("results/learning"))
    args = ap.parse_args()
    run = args.out / f"{args.architecture}_{args.level}_s{args.seed}"
    start = time.time()
    result = train(
        TrainConfig(
            level=args.level,
            architecture=args.architecture,
            seed=args.seed,
            timesteps=args.timesteps,
            out=run,
            minibatches=args.minibatches,
            **({"epochs": args.epochs} if args.epochs else {}),
            **({"rows": args.rows} if args.rows else {}),
            learning_rate=args.learning_rate,
        )
    )
    train_wall = time.time() - start
    trained = evaluate(run_dir=run, episodes=args.episodes)
    random = evaluate(
        level_name=args.level, policy_kind="random", episodes=args.episodes, out=args.out / f"random_{args.level}.json"
    )
    print(
        f"budget {result.agent_steps:,} agent steps; training wall time {train_wall:.0f} s "
        f"({result.sps:,.0f} agent-steps/s); {args.episodes} evaluation episodes per simulation"
    )
    summary = {"agent_steps": result.agent_steps, "train_seconds": round(train_wall, 1), "simulations": {}}
    for sim, t in trained["simulations"].items():
        r = random["simulations"][sim]
        row = {}
        for metric in ("reward_per_agent", "hearts_per_agent"):
            tm, rm = t[metric]["mean"], r[metric]["mean"]
            row[metric] = {"trained": tm, "random": rm, "ratio": tm / rm if rm else float("inf")}
            print(
                f"  {sim:<7} {metric:<17} trained {tm:6.2f} [{t[metric]['ci_low']:.2f}, {t[metric]['ci_high']:.2f}]"
                f"  random {rm:6.2f}  ratio {row[metric]['ratio']:.2f}x"
            )
        summary["simulations"][sim] = row
    (args.out / "learning_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"written: {run} (checkpoint, metrics.jsonl, eval.json), {args.out / 'learning_summary.json'}")


if __name__ == "__main__":
    main()
