"""Would AdaStop's own early acceptance (its `beta`, "power spent in early accept") cut the runs of `--adaptive`?

`--adaptive` spends most of its runs on pairs that are never decided: equal architectures run to the seed cap
(benchmarks/adaptive_simulation.py). The adastop package can also accept equality before the cap: at interim k a
pair is accepted when its statistic falls below the beta (k+1)/K quantile of the permutation distribution of the
largest statistic. This replays the same simulated experiments as `adaptive_simulation.py` (its scenarios and
seed scores) through the package directly, with the same stage design (n seeds per interim, K interims, only
architectures in undecided pairs get more seeds), for several beta, and prints the family-wise error, the power
and the runs per experiment.

    python benchmarks/adastop_early_accept.py [--betas 0,0.3,0.6,0.9] [--experiments 100] [--scenarios null,one-clear]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from adaptive_simulation import SCENARIOS, draw, judge  # noqa: E402


def sequential(scores: dict[str, np.ndarray], beta: float, args, seed: int) -> tuple[dict, int]:
    """AdaStop over `scores` with early acceptance `beta`: (decisions per pair, runs used)."""
    from adastop import MultipleAgentsComparator

    archs = list(scores)
    n = args.seeds_per_interim
    # the package's own group-sequential mode, as documented (docs/adaptive.md): alpha / 2 for its one-sided
    # boundary, B = C(2n, n) so that it draws random splits and its later interims count over C(2n, n)
    tester = MultipleAgentsComparator(
        n=n, K=args.interims, B=math.comb(2 * n, n), alpha=args.alpha / 2, beta=beta, seed=seed
    )
    seeds = dict.fromkeys(archs, 0)
    active = list(range(len(archs)))
    for k in range(args.interims):
        for i in active:
            seeds[archs[i]] = (k + 1) * n
        tester.partial_compare({a: scores[a][: seeds[a]] for a in archs}, verbose=False)
        if tester.is_finished:
            break
        active = sorted({int(i) for pair in tester.current_comparisons for i in pair})
    decisions = {}
    for key, decision in tester.decisions.items():
        i, j = (int(x) for x in key.strip("[]").split())
        decisions[(archs[i], archs[j])] = decision
    return decisions, sum(seeds.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--betas", default="0,0.3,0.6,0.9")
    parser.add_argument("--experiments", type=int, default=100)
    parser.add_argument("--seeds-per-interim", type=int, default=5)
    parser.add_argument("--interims", type=int, default=4)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--outliers", type=float, default=0.05)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    try:
        betas = [float(b) for b in args.betas.split(",")]
    except ValueError:
        parser.error(f"--betas {args.betas!r}: give numbers in [0, 1), comma-separated")
    names = [s for s in args.scenarios.split(",") if s]
    if bad := [s for s in names if s not in SCENARIOS]:
        parser.error(f"unknown scenario {bad[0]!r}; valid: {', '.join(SCENARIOS)}")
    start = time.perf_counter()
    print(
        f"{args.experiments} experiments per scenario; n {args.seeds_per_interim}, K {args.interims}, "
        f"alpha {args.alpha}, B {args.permutations}, collapsed runs {args.outliers:.0%}"
    )
    print("| beta | scenario | FWER | power | runs / experiment |")
    print("| --- | --- | --- | --- | --- |")
    for beta in betas:
        for name in names:
            scenario = SCENARIOS[name]
            cap = args.seeds_per_interim * args.interims
            errors = right = different = runs = 0
            for k in range(args.experiments):
                decisions, used = sequential(draw(scenario, k, cap, args.outliers), beta, args, seed=k)
                wrong, r, d = judge(decisions, scenario.means)
                errors, right, different, runs = errors + wrong, right + r, different + d, runs + used
            power = f"{right / different:.3f}" if different else "-"
            print(
                f"| {beta} | {name} | {errors / args.experiments:.3f} | {power} | {runs / args.experiments:.1f} |",
                flush=True,
            )
    print(f"time: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
