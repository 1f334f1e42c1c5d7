"""Does every architecture learn level 1? Train each on a fixed budget, evaluate trained vs random.

    python benchmarks/calibrate.py [--architectures a,b] [--seeds 0 1] [--timesteps 2000000] [--episodes 16]
                                   [--set learning_rate=3e-3 --set epochs=2 --tag lr3e-3_e2] [--out results/calibration]

Every architecture trains with its own settings (its `TrainerHints`, else the trainer's defaults); `--set`
overrides a setting for a sweep point, named by `--tag`. The random policy plays the same evaluation
episodes. Each finished (architecture, tag, seed) is appended to `<out>/calibration.jsonl` at once, so an
interrupted calibration loses nothing and a re-run skips what is done. The table (markdown) goes to stdout
and `<out>/calibration.md`: requested and trained steps, trained and random reward and hearts per agent
(mean of the seeds and each seed), ratios, settings and training agent-steps/s; then the issue's bars.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from trained_vs_random import METRICS, load_records, measure

from benchmark.architectures import ARCHITECTURES
from benchmark.training.config import TrainConfig

SETTINGS = tuple(TrainConfig.DEFAULTS)


def parse_set(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in SETTINGS or not value:
            raise SystemExit(f"--set {item!r}: expected NAME=VALUE with NAME one of {', '.join(SETTINGS)}")
        out[key] = int(value) if key in ("minibatches", "epochs", "bptt") else float(value)
    return out


def settings_text(record: dict) -> str:
    s = record["settings"]
    text = f"lr {s['learning_rate']:g}, ep {s['epochs']}, mb {s['minibatches']}, bptt {s['bptt']}, "
    return text + f"ent {s['entropy_coef']:g}, {record['precision']}"


def table(records: list[dict]) -> str:
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["architecture"], r["tag"]), []).append(r)
    lines = [
        "| architecture | tag | seeds | steps (requested / trained) | reward/agent (x random) | per seed "
        "| hearts/agent (x random) | per seed | settings | agent-steps/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (arch, tag), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        cells = []
        for m in METRICS:
            vals = [r[f"basic.{m}"] for r in rs]
            mean_t = sum(v["trained"] for v in vals) / len(vals)
            mean_x = sum(v["ratio"] for v in vals) / len(vals)
            cells.append(f"{mean_t:.2f} ({mean_x:.2f}x)")
            cells.append(", ".join(f"{v['trained']:.2f} ({v['ratio']:.2f}x)" for v in vals))
        texts = [settings_text(r) for r in rs]
        # seeds trained under different settings (a default changed between them) say so, seed by seed
        settings = texts[0]
        if len(set(texts)) > 1:
            settings = "; ".join(f"s{r['seed']}: {t}" for r, t in zip(rs, texts, strict=True))
        sps = sum(r["sps"] for r in rs) / len(rs)
        steps = f"{rs[0]['timesteps_requested']:,} / {rs[0]['agent_steps']:,}"
        lines.append(
            f"| {arch} | {tag or '-'} | {len(rs)} | {steps} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} "
            f"| {settings} | {sps:,.0f} |"
        )
    return "\n".join(lines)


SEEDS_ASKED = 2  # issue 10's table: every architecture's mean over 2 seeds


def bars(records: list[dict]) -> str:
    ratios: dict[str, list[float]] = {}
    for r in records:
        if not r["tag"]:
            ratios.setdefault(r["architecture"], []).append(r["basic.reward_per_agent"]["ratio"])
    means = {a: sum(v) / len(v) for a, v in ratios.items()}
    if not means:
        return "bars: no untagged (default-settings) runs yet"
    below = sorted(a for a, m in means.items() if m < 1.5)
    twice = sum(m >= 2.0 for m in means.values())
    missing = [a for a in ARCHITECTURES if a not in means]
    one_seed = [a for a, v in ratios.items() if len(v) < SEEDS_ASKED]
    return (
        f"bars over {len(means)} of {len(ARCHITECTURES)} architectures (default settings"
        + (f"; not measured yet: {', '.join(missing)}" if missing else "")
        + "): every one >= 1.5x random reward: "
        f"{'PASS' if not below else 'FAIL (' + ', '.join(below) + ')'}; at least 8 >= 2x: "
        f"{'PASS' if twice >= 8 else 'FAIL'} ({twice})"
        + (
            f"; fewer than {SEEDS_ASKED} seeds (not yet the table's bar): {', '.join(one_seed)}"
            if one_seed
            else f"; every one with {SEEDS_ASKED} seeds or more"
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--architectures", default=",".join(ARCHITECTURES))
    ap.add_argument("--level", default="level_1_basic")
    ap.add_argument("--timesteps", type=int, default=2_000_000)
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help=f"one of {SETTINGS}")
    ap.add_argument("--tag", default="", help="names a sweep point (required with --set)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for training")
    ap.add_argument("--out", type=Path, default=Path("results/calibration"))
    ap.add_argument("--table-only", action="store_true", help="print the table of what is recorded, train nothing")
    args = ap.parse_args()
    overrides = parse_set(args.set)
    if overrides and not args.tag:
        raise SystemExit("--set needs --tag NAME (a sweep point must not mix with the default settings' rows)")
    archs = [a.strip() for a in args.architectures.split(",") if a.strip()]
    unknown = [a for a in archs if a not in ARCHITECTURES]
    if unknown:
        raise SystemExit(f"unknown architecture(s) {unknown}; valid: {', '.join(ARCHITECTURES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    ledger = args.out / "calibration.jsonl"
    if not args.table_only:
        for arch in archs:
            for seed in args.seeds:
                record = measure(
                    level=args.level,
                    architecture=arch,
                    seed=seed,
                    timesteps=args.timesteps,
                    episodes=args.episodes,
                    out=args.out,
                    ledger=ledger,
                    tag=args.tag,
                    overrides=overrides,
                    threads=args.threads,
                )
                r = record["basic.reward_per_agent"]
                print(
                    f"{arch} {args.tag or '-'} s{seed}: reward {r['trained']:.2f} ({r['ratio']:.2f}x) "
                    f"{record['sps']:,.0f} agent-steps/s",
                    flush=True,
                )
    records = [r for r in load_records(ledger) if r["level"] == args.level]
    text = table(records) + "\n\n" + bars(records) + "\n"
    (args.out / "calibration.md").write_text(text)
    print(text)
    print(f"written: {ledger} and {args.out / 'calibration.md'}")


if __name__ == "__main__":
    main()
