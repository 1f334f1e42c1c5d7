"""Does `fast` learn level 1? Train on a fixed budget, then evaluate trained vs random on the same episodes.

    python benchmarks/learning.py [--seeds 0 1 2 3] [--timesteps 2000000] [--episodes 32] [--out results/learning]

For each seed: budget, training wall time, trained and random reward and hearts per agent (95% CI over
episodes) and their ratios; then the foundation's bar (at least 2x the random reward and 3x the random
hearts per agent) checked for every seed. Trainer settings are the trainer's defaults unless given.
A seed's run folder that already holds a finished checkpoint is resumed (so re-running only re-evaluates).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmark.evaluation.evaluator import evaluate
from benchmark.training.config import TrainConfig
from benchmark.training.trainer import train

METRICS = ("reward_per_agent", "hearts_per_agent")
BAR = {"reward_per_agent": 2.0, "hearts_per_agent": 3.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--level", default="level_1_basic")
    ap.add_argument("--architecture", default="fast")
    ap.add_argument("--timesteps", type=int, default=2_000_000)
    ap.add_argument("--episodes", type=int, default=32)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--minibatches", type=int, default=None, help="minibatches per epoch (trainer default: 12)")
    ap.add_argument("--learning-rate", type=float, default=None)
    ap.add_argument("--epochs", type=int, default=None, help="PPO epochs per update (trainer default: 1)")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--rows", type=int, default=None, help="agents per batch (trainer default 384)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: every CPU this process may use)")
    ap.add_argument("--out", type=Path, default=Path("results/learning"))
    args = ap.parse_args()
    overrides = {
        k: v
        for k, v in {"minibatches": args.minibatches, "epochs": args.epochs, "rows": args.rows}.items()
        if v is not None
    }
    random = evaluate(
        level_name=args.level, policy_kind="random", episodes=args.episodes, out=args.out / f"random_{args.level}.json"
    )
    summary: dict = {"level": args.level, "architecture": args.architecture, "seeds": {}}
    for seed in args.seeds:
        run = args.out / f"{args.architecture}_{args.level}_s{seed}"
        start = time.time()
        result = train(
            TrainConfig(
                level=args.level,
                architecture=args.architecture,
                seed=seed,
                timesteps=args.timesteps,
                out=run,
                learning_rate=args.learning_rate,
                threads=args.threads,
                precision=args.precision,
                **overrides,
            )
        )
        wall = time.time() - start
        trained = evaluate(run_dir=run, episodes=args.episodes)
        print(
            f"seed {seed}: budget {result.agent_steps:,} agent steps; training wall time {wall:.0f} s "
            f"({result.sps:,.0f} agent-steps/s); {args.episodes} evaluation episodes per simulation"
        )
        row: dict = {"agent_steps": result.agent_steps, "train_seconds": round(wall, 1), "simulations": {}}
        for sim, t in trained["simulations"].items():
            r = random["simulations"][sim]
            row["simulations"][sim] = {}
            for metric in METRICS:
                tm, rm = t[metric]["mean"], r[metric]["mean"]
                ratio = tm / rm if rm else float("inf")
                row["simulations"][sim][metric] = {"trained": tm, "random": rm, "ratio": ratio}
                print(
                    f"  {sim:<7} {metric:<17} trained {tm:6.2f} [{t[metric]['ci_low']:.2f}, "
                    f"{t[metric]['ci_high']:.2f}]  random {rm:6.2f}  ratio {ratio:.2f}x"
                )
        summary["seeds"][str(seed)] = row
    ratios = {
        m: [s["simulations"][sim][m]["ratio"] for s in summary["seeds"].values() for sim in s["simulations"]]
        for m in METRICS
    }
    for m in METRICS:
        vals = ratios[m]
        verdict = "PASS" if min(vals) >= BAR[m] else "FAIL"
        print(
            f"{m}: ratio mean {sum(vals) / len(vals):.2f}x, min {min(vals):.2f}x over {len(args.seeds)} seed(s); "
            f"bar {BAR[m]:.0f}x: {verdict}"
        )
    summary["ratios"] = ratios
    (args.out / "learning_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"written: {args.out} (one run folder per seed: checkpoint, metrics.jsonl, eval.json; learning_summary.json)")


if __name__ == "__main__":
    main()
