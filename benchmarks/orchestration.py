"""Orchestration overhead: 1,000 jobs of known duration through the real scheduler, on the in-process fake backend.

500 runs (50 architectures x 10 levels x 1 seed) = 500 train + 500 eval jobs, each lasting a fixed, known
50-100 ms; at most 16 at once. The controller's hand-off costs a fixed ~2-3 ms per job, so a loaded machine
pushes the ratio past 1.05 at these durations (measured 1.052-1.064 while other work ran; 1.047 when quiet).
The ideal makespan is the lower bound max(total work / 16, longest train+eval chain); the controller is good
when it finishes within 5% of it. The ledger (500 runs) is written as in a real
experiment, with fsync, in a scratch folder under the project's results/ (the filesystem experiments use); the
scheduler reads every job's output files, which the fake backend writes when a job ends as the job's own process
would (that CPU time is reported apart, not as the controller's).

    python benchmarks/orchestration.py [--jobs 1000] [--max-parallel 16] [--min-ms 50] [--max-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.orchestration.backends.fake import FakeBackend, FakeOutcome  # noqa: E402
from benchmark.orchestration.controller import merge_plan  # noqa: E402
from benchmark.orchestration.ledger import Environment, Ledger, LedgerStore, Status, now_iso  # noqa: E402
from benchmark.orchestration.plan import Throughput, build_plan  # noqa: E402
from benchmark.orchestration.scheduler import Scheduler, SchedulerConfig  # noqa: E402

SHM = Path("/dev/shm")  # a RAM disk: measures the controller, not a disk shared with other work


async def bare_asyncio(plan, duration: dict[str, float], cap: int) -> float:
    """The floor any asyncio controller meets here: timer wake-ups and this machine's load, no bookkeeping."""
    trains = [j for j in plan.jobs if j.role == "train"]
    ready: asyncio.Queue = asyncio.Queue()
    for job in trains:
        ready.put_nowait(job)
    left = len(plan.jobs)
    done = asyncio.Event()

    async def worker() -> None:
        nonlocal left
        while left:
            job = await ready.get()
            if job is None:
                return
            await asyncio.sleep(duration[job.job_id])
            left -= 1
            if job.role == "train":
                ready.put_nowait(plan.job(f"{job.run_id}.eval"))
            if not left:
                done.set()
                for _ in range(cap):
                    ready.put_nowait(None)

    start = time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(cap)]
    await done.wait()
    await asyncio.gather(*workers)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs (half train, half eval)")
    parser.add_argument("--max-parallel", type=int, default=16)
    parser.add_argument("--min-ms", type=float, default=50.0)
    parser.add_argument("--max-ms", type=float, default=100.0)
    parser.add_argument(
        "--poll-ms", type=float, default=50.0, help="fake backend poll interval (it also says when its next job ends)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=None, help="scratch folder for the ledger and job files (default: /dev/shm)")
    args = parser.parse_args()

    runs = args.jobs // 2
    levels = [f"l{i}" for i in range(10)]
    archs = [f"a{i:03d}" for i in range((runs + len(levels) - 1) // len(levels))]
    rng = random.Random(args.seed)
    scratch = Path(args.dir) if args.dir else (SHM if SHM.is_dir() else Path(__file__).resolve().parents[1] / "results")
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bench-orchestration-", dir=scratch) as tmp:
        # the jobs' durations are known: give them to the planner as measured throughput (longest first)
        known = {(a, lv): rng.uniform(args.min_ms, args.max_ms) / 1000 for a in archs for lv in levels}
        known_eval = {(a, lv): rng.uniform(args.min_ms, args.max_ms) / 1000 for a in archs for lv in levels}
        plan = build_plan(
            experiment_id="bench",
            root=Path(tmp) / "bench",
            architectures=archs,
            levels=levels,
            seeds=[0],
            timesteps=1000,
            episodes=2,
            baselines=False,
            throughput=Throughput(train_sps={k: 1000 / v for k, v in known.items()}, eval_seconds=dict(known_eval)),
        )
        plan.runs[:] = plan.runs[:runs]
        plan.jobs[:] = [j for j in plan.jobs if j.run_id in {r.run_id for r in plan.runs}]
        cell = {r.run_id: (r.architecture, r.level) for r in plan.runs}
        duration = {j.job_id: (known if j.role == "train" else known_eval)[cell[j.run_id]] for j in plan.jobs}
        work = sum(duration.values())
        chain = max(duration[f"{r.run_id}.train"] + duration[f"{r.run_id}.eval"] for r in plan.runs)
        ideal = max(work / args.max_parallel, chain)

        ledger = Ledger(
            experiment_id="bench",
            start_time=now_iso(),
            updated_time=now_iso(),
            max_timesteps=1000,
            config={"timesteps": 1000, "episodes": 2},
            environment=Environment(
                python="-", torch=None, mettagrid=None, git_commit=None, platform="-", hostname="-", cpus=1
            ),
        )
        merge_plan(ledger, plan)
        store = LedgerStore(plan.paths.ledger, ledger)
        store.save()
        backend = FakeBackend(
            script=lambda spec: FakeOutcome(duration=duration[spec.job_id]),
            poll_interval=args.poll_ms / 1000,
        )
        scheduler = Scheduler(
            plan, store, backend, SchedulerConfig(max_parallel=args.max_parallel, retries=0, stall_timeout=None)
        )
        floor = asyncio.run(bare_asyncio(plan, duration, args.max_parallel))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        outcome = asyncio.run(scheduler.run())
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        ok = all(r.training.status == r.evaluation.status == Status.SUCCESS for r in ledger.runs)
        size = plan.paths.ledger.stat().st_size

    ratio = wall / ideal
    print(
        f"jobs: {len(plan.jobs)} ({runs} train + {runs} eval), {args.min_ms:.0f}-{args.max_ms:.0f} ms each, "
        f"max-parallel {args.max_parallel}; all succeeded: {ok and outcome.complete}"
    )
    print(f"most running at once: {backend.max_running}; launches: {len(backend.launches)}")
    print(
        f"bare asyncio on this machine now (16 workers sleeping each job's duration, same order, no controller): "
        f"{floor:.3f} s, ratio {floor / ideal:.4f}"
    )
    print(
        f"ideal makespan {ideal:.3f} s (work {work:.1f} s / {args.max_parallel}), measured {wall:.3f} s: "
        f"ratio {ratio:.4f} ({(ratio - 1) * 100:+.2f}%)"
    )
    cpu -= backend.output_cpu_seconds
    print(
        f"controller CPU: {cpu:.3f} s in all, {cpu / len(plan.jobs) * 1000:.2f} ms per job "
        f"(submit, poll, verdict, reading each job's output files, ledger rewrites)"
    )
    print(f"fake jobs writing their output files: {backend.output_cpu_seconds:.3f} s CPU (not counted above)")
    print(f"ledger: {store.writes} atomic rewrites of {size / 1e6:.2f} MB")
    return 0 if ok and ratio <= 1.05 and backend.max_running <= args.max_parallel else 1


if __name__ == "__main__":
    raise SystemExit(main())
