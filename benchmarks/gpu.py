"""One node at full speed, measured in one command (under 8 minutes with the defaults): the table for issue 13.

    python benchmarks/gpu.py [--json gpu.json] [--quick]

1. Raw MettaGrid scaling: random actions through the environment with 0 (in-process), 1, 2, 4, ... workers.
2. `fast` training throughput with workers: a real `train()` on the node's device, 0, 2, the automatic choice,
   half and all but one of the cores, and the automatic choice with double buffering switched the other way.
3. Every architecture's training throughput (a fixed wall time each, steady state from its metrics).
4. Node throughput: k concurrent `archbench train` jobs of `fast` sharing the GPU (k = 1, 2, 4, 8), each with
   cores // k threads and workers, summed; and one mixed grid (k different architectures at once).

Training figures are steady-state agent-steps/s from each run's metrics.jsonl (first update excluded: it pays
for start-up and compilation). Everything is printed as one table with the device, CPUs, torch and CUDA.
Runs on a CPU machine too (for testing; its figures say nothing about a GPU node).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("METTAGRID_LOG_LEVEL", "WARNING")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmark.architectures import ARCHITECTURES  # noqa: E402
from benchmark.cpus import available_cpus  # noqa: E402
from benchmark.levels import get_level  # noqa: E402
from benchmark.training.workers import auto_workers, make_env  # noqa: E402

MIXED = ("fast", "puffer", "vit", "transformer", "trxl", "agalite", "fast_lstm_reset", "memory_free")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--level", default="level_1_basic")
    p.add_argument("--sims", type=int, default=128, help="simulations for the environment scaling")
    p.add_argument("--env-seconds", type=float, default=4.0, help="per environment measurement")
    p.add_argument("--rows", type=int, default=None, help="training rows (default: 4096 on CUDA, 384 on CPU)")
    p.add_argument("--train-seconds", type=float, default=16.0, help="per training measurement")
    p.add_argument("--job-seconds", type=float, default=30.0, help="per node-throughput measurement")
    p.add_argument("--jobs", default="1,2,4,8", help="concurrent jobs per GPU to measure")
    p.add_argument("--architectures", default="", help="comma-separated (default: every registered one)")
    p.add_argument("--quick", action="store_true", help="seconds instead of minutes: checks the script runs")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.sims, args.env_seconds, args.train_seconds, args.job_seconds = 8, 1.0, 15.0, 15.0
        args.rows = args.rows or 48
        args.jobs, args.architectures = "1,2", args.architectures or "fast,vit"
    return args


def env_sps(level: str, sims: int, workers: int, seconds: float) -> float:
    env = make_env(get_level(level), sims, workers, run_seed=0)
    rng = np.random.default_rng(0)
    try:
        for _ in range(3):  # warm-up
            env.step(rng.integers(0, 5, env.num_rows))
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            env.step(rng.integers(0, 5, env.num_rows))
            steps += env.num_rows
        return steps / (time.perf_counter() - start)
    finally:
        env.close()


def steady_sps(metrics: Path) -> float | None:
    """Agent-steps/s between the first and last logged update (the first pays for start-up)."""
    try:
        lines = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return None
    if len(lines) < 2:
        return None
    first, last = lines[0], lines[-1]
    seconds = last["wall_seconds"] - first["wall_seconds"]
    return (last["agent_steps"] - first["agent_steps"]) / seconds if seconds > 0 else None


def train_jobs(specs: list[dict], seconds: float, threads: int) -> list[float | None]:
    """Run `archbench train` jobs at once for `seconds` (then stop them); each one's steady agent-steps/s."""
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for i, spec in enumerate(specs):
            out = Path(tmp) / f"job{i}"
            argv = [sys.executable, "-m", "benchmark.cli", "train", "--timesteps", "1000000000", "--quiet"]
            argv += ["--out", str(out), "--wandb-mode", "disabled", "--threads", str(threads)]
            for key, value in spec.items():
                flag = key.replace("_", "-")
                if isinstance(value, bool):
                    argv.append(f"--{flag}" if value else f"--no-{flag}")
                else:
                    argv += [f"--{flag}", str(value)]
            env = {**os.environ, "PYTHONPATH": str(ROOT), "ARCHBENCH_THREADS": str(threads)}
            procs.append((subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), out))
        time.sleep(seconds)
        results = []
        for proc, _ in procs:
            proc.terminate()
        for proc, out in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            results.append(steady_sps(out / "metrics.jsonl"))
            if results[-1] is None:
                err = proc.stderr.read().decode(errors="replace").strip().splitlines() if proc.stderr else []
                print(f"  a job measured nothing: {err[-1] if err else 'no output'}", file=sys.stderr)
        return results


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    cpus = available_cpus()
    cuda = torch.cuda.is_available()
    rows = args.rows or (4096 if cuda else 384)
    level = get_level(args.level)
    sims_train = max(1, rows // level.num_agents)
    names = [n for n in args.architectures.split(",") if n] or list(ARCHITECTURES)
    meta = {
        "device": torch.cuda.get_device_name(0) if cuda else f"CPU ({platform.processor() or platform.machine()})",
        "cpus": cpus,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "level": args.level,
        "train_rows": rows,
    }
    print(" | ".join(f"{k}: {v}" for k, v in meta.items()), flush=True)
    table: list[tuple[str, str, float | None]] = []

    def record(part: str, what: str, sps: float | None) -> None:
        table.append((part, what, sps))
        print(f"  {part}: {what}: {'-' if sps is None else f'{sps:,.0f}'} agent-steps/s", flush=True)

    counts = sorted({0, 1, 2, 4, 8, 16, cpus - 1} & set(range(0, min(cpus, args.sims) + 1)))
    for w in counts:
        record("environment", f"{args.sims} sims, {w} workers", env_sps(args.level, args.sims, w, args.env_seconds))
    auto = auto_workers(cpus, sims_train, cuda)
    for w in sorted({0, 2, auto, cpus // 2, cpus - 1} & set(range(0, sims_train + 1))):
        spec = {"architecture": "fast", "level": args.level, "rows": rows, "env_workers": w}
        record(
            "fast training",
            f"{w} workers{' (auto)' if w == auto else ''}",
            train_jobs([spec], args.train_seconds, cpus)[0],
        )
    if auto >= 2:  # the automatic choice double-buffers on CUDA: the same without it
        spec = {"architecture": "fast", "level": args.level, "rows": rows, "env_workers": auto}
        spec["double_buffer"] = not cuda
        label = f"{auto} workers, {'without' if cuda else 'with'} double buffering"
        record("fast training", label, train_jobs([spec], args.train_seconds, cpus)[0])
    for name in names:
        spec = {"architecture": name, "level": args.level, "rows": rows, "env_workers": auto}
        record("architecture", name, train_jobs([spec], args.train_seconds, cpus)[0])
    for k in (int(x) for x in args.jobs.split(",")):
        threads = max(1, cpus // k)
        w = auto_workers(threads, sims_train, cuda)
        spec = {"architecture": "fast", "level": args.level, "rows": rows, "env_workers": w}
        each = train_jobs([spec] * k, args.job_seconds, threads)
        record("node", f"{k} x fast ({threads} cores, {w} workers each)", sum(s for s in each if s) or None)
    k = max(int(x) for x in args.jobs.split(","))
    threads = max(1, cpus // k)
    mixed = [
        {
            "architecture": MIXED[i % len(MIXED)],
            "level": args.level,
            "rows": rows,
            "env_workers": auto_workers(threads, sims_train, cuda),
        }
        for i in range(k)
    ]
    each = train_jobs(mixed, args.job_seconds, threads)
    record(
        "node",
        f"mixed grid: {k} jobs ({', '.join(s['architecture'] for s in mixed)})",
        sum(s for s in each if s) or None,
    )

    print(f"\n{' | '.join(f'{k}: {v}' for k, v in meta.items())}\n")
    print("| part | what | agent-steps/s |\n| --- | --- | --- |")
    for part, what, sps in table:
        print(f"| {part} | {what} | {'-' if sps is None else f'{sps:,.0f}'} |")
    result = {"meta": meta, "rows": [{"part": p, "what": w, "sps": s} for p, w, s in table]}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        print(f"\nwritten: {args.json}")
    return result


if __name__ == "__main__":
    main()
