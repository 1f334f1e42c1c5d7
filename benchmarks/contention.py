"""Do jobs stay fast beside another CPU-bound process? Evaluation and training, quiet and under load.

    python benchmarks/contention.py [--episodes 2] [--timesteps 100000] [--out results/contention]

Trains a small `fast` checkpoint first (untimed), then times, each as its own `archbench` process (so thread
and OpenMP settings apply from the start):
- `archbench evaluate --episodes E` with --threads 2 (what jobs got before) and with the default (1 thread);
- `archbench train --timesteps T` with --threads 2, with the default (the CPUs free at start), and both with
  OMP_WAIT_POLICY=PASSIVE;
each on a quiet machine and beside one foreign CPU-bound process (a busy loop), and prints seconds (or
agent-steps/s) and the slowdown under load. The bar: no default configuration 5x slower under load than quiet.
Run it on an otherwise idle machine: the "quiet" column must be quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "benchmark.cli"]
BAR = 5.0


def busy_loop() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def run(argv: list[str], env_extra: dict[str, str] | None = None) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHBENCH_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    env.update(env_extra or {})
    start = time.perf_counter()
    done = subprocess.run([*CLI, *argv], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--timesteps", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=Path("results/contention"))
    args = ap.parse_args()
    out = args.out.resolve()
    ckpt = out / "fast"
    run(["train", "--timesteps", "20000", "--out", str(ckpt), "--quiet"])
    evals = {
        "evaluate --threads 2 (before)": (["--threads", "2"], {}),
        "evaluate, default threads (1)": ([], {}),
    }
    trains = {
        "train --threads 2 (before)": (["--threads", "2"], {}),
        "train, default threads (free CPUs)": ([], {}),
        "train --threads 2, OMP_WAIT_POLICY=PASSIVE": (["--threads", "2"], {"OMP_WAIT_POLICY": "PASSIVE"}),
        "train, default threads, OMP_WAIT_POLICY=PASSIVE": ([], {"OMP_WAIT_POLICY": "PASSIVE"}),
    }
    rows: dict[str, dict[str, float]] = {}
    for condition in ("quiet", "load"):
        loop = busy_loop() if condition == "load" else None
        try:
            time.sleep(1.0 if loop else 0.0)
            for name, (extra, env) in evals.items():
                eval_out = out / f"eval_{condition}.json"
                argv = ["evaluate", "--run", str(ckpt), "--episodes", str(args.episodes), "--out", str(eval_out)]
                seconds = run([*argv, *extra], env)
                rows.setdefault(name, {})[condition] = seconds
                print(f"{condition:5} {name:50} {seconds:7.1f} s", flush=True)
            for i, (name, (extra, env)) in enumerate(trains.items()):
                run_dir = out / f"train_{condition}_{i}"
                argv = ["train", "--timesteps", str(args.timesteps), "--out", str(run_dir), "--quiet", "--seed", "1"]
                subprocess.run(["rm", "-rf", str(run_dir)], check=True)
                run([*argv, *extra], env)
                summary = json.loads((run_dir / "train_summary.json").read_text())
                rows.setdefault(name, {})[condition] = summary["sps"]
                print(f"{condition:5} {name:50} {summary['sps']:9,.0f} agent-steps/s", flush=True)
        finally:
            if loop is not None:
                loop.kill()
                loop.wait()
    print(
        f"\n# {os.cpu_count()} CPUs; load = one foreign busy-loop process; eval {args.episodes} episodes, "
        f"train {args.timesteps:,} agent steps (fast, level 1)"
    )
    print(f"{'configuration':52} {'quiet':>10} {'load':>10} {'slowdown':>9}")
    worst_default = 0.0
    for name, r in rows.items():
        is_eval = name.startswith("evaluate")
        slowdown = r["load"] / r["quiet"] if is_eval else r["quiet"] / r["load"]
        unit = "s" if is_eval else "sps"
        print(f"{name:52} {r['quiet']:>8,.1f}{unit:>2} {r['load']:>8,.1f}{unit:>2} {slowdown:8.1f}x")
        if "default" in name and "PASSIVE" not in name:
            worst_default = max(worst_default, slowdown)
    verdict = "PASS" if worst_default < BAR else "FAIL"
    print(f"defaults: worst slowdown under load {worst_default:.1f}x; bar < {BAR:.0f}x: {verdict}")
    (out / "contention.json").write_text(json.dumps(rows, indent=2))
    print(f"written: {out / 'contention.json'}")


if __name__ == "__main__":
    main()
