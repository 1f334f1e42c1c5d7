"""The difficulty ladder: one architecture trained on levels 2-5, trained vs random on every evaluation.

    python benchmarks/ladder.py [--architecture fast] [--levels level_2_easy,...] [--seeds 0]
                                [--budgets level_2_easy=5e6,level_5_expert=2e7] [--episodes 16]
                                [--out results/ladder]

For each level and seed: train for that level's budget, evaluate on the level's evaluation simulations
(basic, and combat where the level has it) with the random policy on the same episodes. Prints, per
evaluation, reward and hearts per agent (trained, random, ratio) and the bars: levels 2-4 at least 3x the
random reward on every evaluation within 10M agent steps; level 5 at least 2x the random hearts on both
evaluations within 20M. Records go to `<out>/ladder.jsonl` as they come (re-runs skip what is recorded).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from trained_vs_random import load_records, measure

from benchmark.cli_support import parse_count

DEFAULT_BUDGETS = {
    "level_2_easy": 5_000_000,
    "level_3_medium": 5_000_000,
    "level_4_hard": 10_000_000,
    "level_5_expert": 20_000_000,
}
BARS = {  # level: (metric, least ratio on every evaluation, most agent steps)
    "level_2_easy": ("reward_per_agent", 3.0, 10_000_000),
    "level_3_medium": ("reward_per_agent", 3.0, 10_000_000),
    "level_4_hard": ("reward_per_agent", 3.0, 10_000_000),
    "level_5_expert": ("hearts_per_agent", 2.0, 20_000_000),
}


def parse_budgets(text: str) -> dict[str, int]:
    out = dict(DEFAULT_BUDGETS)
    for item in filter(None, (t.strip() for t in text.split(","))):
        level, _, value = item.partition("=")
        if level not in DEFAULT_BUDGETS or not value:
            raise SystemExit(f"--budgets {item!r}: expected LEVEL=STEPS with LEVEL one of {', '.join(DEFAULT_BUDGETS)}")
        out[level] = parse_count(value)
    return out


def table(records: list[dict]) -> str:
    lines = [
        "| level | seed | steps (requested / trained) | evaluation | reward/agent trained / random (x) "
        "| hearts/agent trained / random (x) | agent-steps/s | bar |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in records:
        metric, least, most = BARS[r["level"]]
        sims = sorted({k.split(".")[0] for k in r if k.endswith(".reward_per_agent")})
        for sim in sims:
            rew, hea = r[f"{sim}.reward_per_agent"], r[f"{sim}.hearts_per_agent"]
            ok = r[f"{sim}.{metric}"]["ratio"] >= least and r["agent_steps"] <= most + 24 * 64
            bar = f"{'PASS' if ok else 'FAIL'} ({metric.split('_')[0]} >= {least:g}x within {most / 1e6:g}M)"
            lines.append(
                f"| {r['level']} | {r['seed']} | {r['timesteps_requested']:,} / {r['agent_steps']:,} | {sim} "
                f"| {rew['trained']:.2f} / {rew['random']:.2f} ({rew['ratio']:.2f}x) "
                f"| {hea['trained']:.2f} / {hea['random']:.2f} ({hea['ratio']:.2f}x) | {r['sps']:,.0f} | {bar} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--architecture", default="fast")
    ap.add_argument("--levels", default=",".join(DEFAULT_BUDGETS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--budgets", default="", help="LEVEL=STEPS,... (default: " + ", ".join(
        f"{k}={v:.0e}" for k, v in DEFAULT_BUDGETS.items()) + ")")  # fmt: skip
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path("results/ladder"))
    ap.add_argument("--table-only", action="store_true", help="print what is recorded, train nothing")
    args = ap.parse_args()
    budgets = parse_budgets(args.budgets)
    levels = [lv.strip() for lv in args.levels.split(",") if lv.strip()]
    unknown = [lv for lv in levels if lv not in DEFAULT_BUDGETS]
    if unknown:
        raise SystemExit(f"unknown ladder level(s) {unknown}; valid: {', '.join(DEFAULT_BUDGETS)}")
    ledger = args.out / "ladder.jsonl"
    if not args.table_only:
        for level in levels:
            for seed in args.seeds:
                r = measure(level=level, architecture=args.architecture, seed=seed, timesteps=budgets[level],
                            episodes=args.episodes, out=args.out, ledger=ledger, threads=args.threads)  # fmt: skip
                print(f"{level} s{seed}: done ({r['agent_steps']:,} agent steps)", flush=True)
    records = [r for r in load_records(ledger) if r["architecture"] == args.architecture and r["level"] in levels]
    text = table(records) + "\n"
    (args.out / "ladder.md").parent.mkdir(parents=True, exist_ok=True)
    (args.out / "ladder.md").write_text(text)
    print(text)
    print(f"written: {ledger} and {args.out / 'ladder.md'}")


if __name__ == "__main__":
    main()
