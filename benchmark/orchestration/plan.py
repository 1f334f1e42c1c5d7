"""An experiment's grid as runs and jobs, in launch order.

Levels x architectures x seeds become runs `X.<architecture>.<level>.s<seed>`; each run is a train job followed
by an eval job, and every level gets one random-policy baseline eval (the report normalises against it).

Order: breadth-first over seeds (every cell's first seed before any second seed, so a partial experiment already
covers the grid), and within a seed rank the longest jobs first (a shorter makespan). Durations come from
throughput measured by earlier ledgers when known; unknown ones count as longest (they are also the ones that
teach us the most). Nothing here imports torch or touches the filesystem.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.orchestration.backend import JobKind

LEDGER_NAME = "benchmark_results.json"


class Role:
    """What a job is for (the backend only knows train/eval; the ledger needs three roles)."""

    TRAIN = "train"
    EVAL = "eval"
    BASELINE = "baseline"
    INTERIM = "interim"  # a checkpoint taken at a fraction of the budget, evaluated on fewer episodes


@dataclass(frozen=True)
class ExperimentPaths:
    """Names every file of an experiment: one object, so no two places disagree about a path."""

    root: Path  # <output-dir>/<experiment-id>

    @property
    def ledger(self) -> Path:
        return self.root / LEDGER_NAME

    @property
    def lock(self) -> Path:
        return self.root / ".controller.lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def baseline_file(self, level: str) -> Path:
        return self.root / "baselines" / f"{level}.json"

    def log(self, job_id: str) -> Path:
        return self.logs / f"{job_id}.log"


@dataclass(frozen=True)
class Run:
    run_id: str
    architecture: str
    level: str
    seed: int
    seed_rank: int  # 0 for the first seed of every cell
    run_dir: Path
    rung: int | None = None  # --screen: a rung below the full budget (its run id ends .r<rung>)


@dataclass(frozen=True)
class PlannedJob:
    job_id: str  # "<run_id>.train", "<run_id>.eval", "<experiment>.baseline.<level>"
    run_id: str  # the run, or "<experiment>.baseline.<level>" for baselines
    role: str  # Role.*
    argv: tuple[str, ...]  # the project CLI without the program name
    run_dir: Path
    log_path: Path
    output: Path  # the file whose content says the job is done (summary, eval.json, baseline json)
    level: str
    depends_on: str | None = None  # job_id that must succeed first
    estimate_seconds: float | None = None  # from measured throughput; None = unknown
    timesteps: int | None = None  # a training's budget (screening rungs differ from the plan's)
    episodes: int | None = None  # an evaluation's episodes when not the plan's (interim evaluations)

    @property
    def kind(self) -> JobKind:
        return JobKind.TRAIN if self.role == Role.TRAIN else JobKind.EVAL

    @property
    def command(self) -> str:
        """The command a user would type to run this job by hand."""
        return shlex.join(("archbench", *self.argv))


@dataclass(frozen=True)
class Throughput:
    """Measured speed from earlier ledgers: training agent-steps/s per (architecture, level), eval seconds."""

    train_sps: Mapping[tuple[str, str], float] = field(default_factory=dict)
    eval_seconds: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (architecture|"random", level)

    def train_estimate(self, architecture: str, level: str, timesteps: int) -> float | None:
        sps = self.train_sps.get((architecture, level))
        return timesteps / sps if sps and sps > 0 else None

    def eval_estimate(self, architecture: str, level: str) -> float | None:
        return self.eval_seconds.get((architecture, level))


@dataclass
class Plan:
    experiment_id: str
    paths: ExperimentPaths
    timesteps: int
    episodes: int
    runs: list[Run]
    jobs: list[PlannedJob]  # launch order (the scheduler also prefers ready evals over trains)
    level_timesteps: dict[str, int] = field(default_factory=dict)  # per-level budgets overriding `timesteps`

    def timesteps_for(self, level: str) -> int:
        return self.level_timesteps.get(level, self.timesteps)

    @property
    def agent_steps(self) -> int:
        """Agent steps the plan's trainings are asked for (a screening rung: its own budget)."""
        return sum(j.timesteps or self.timesteps_for(j.level) for j in self.jobs if j.role == Role.TRAIN)

    def __post_init__(self) -> None:
        self._by_id = {j.job_id: j for j in self.jobs}

    def job(self, job_id: str) -> PlannedJob:
        return self._by_id[job_id]

    def extend(self, other: Plan) -> list[PlannedJob]:
        """Add `other`'s runs and jobs that this plan lacks (the adaptive mode's new seeds); returns the new jobs."""
        known = {r.run_id for r in self.runs}
        self.runs.extend(r for r in other.runs if r.run_id not in known)
        new = [j for j in other.jobs if j.job_id not in self._by_id]
        self.jobs.extend(new)
        self._by_id.update((j.job_id, j) for j in new)
        return new


def cli_args(command: str, **options: object) -> tuple[str, ...]:
    """`("train", "--level", "x", ...)` from keyword options; None is left out, True is a bare flag."""
    argv = [command]
    for name, value in options.items():
        if value is None or value is False:
            continue
        argv.append("--" + name.replace("_", "-"))
        if value is not True:
            argv.append(str(value))
    return tuple(argv)


def run_id(experiment_id: str, architecture: str, level: str, seed: int) -> str:
    return f"{experiment_id}.{architecture}.{level}.s{seed}"


def baseline_id(experiment_id: str, level: str) -> str:
    return f"{experiment_id}.baseline.{level}"


def build_plan(
    *,
    experiment_id: str,
    root: Path,
    architectures: Sequence[str],
    levels: Sequence[str],
    seeds: Sequence[int],
    timesteps: int,
    level_timesteps: Mapping[str, int] | None = None,
    episodes: int,
    wandb_mode: str = "offline",
    architectures_module: str | None = None,
    throughput: Throughput | None = None,
    baselines: bool = True,
    cells: Mapping[tuple[str, str], int] | None = None,
    rung: int | None = None,
    interim: Sequence[int] = (),
) -> Plan:
    """Every run and job of the grid, ordered breadth-first over seeds, longest first within a seed rank.

    `cells` (the adaptive mode): seeds per (architecture, level), the first that many of `seeds`; a cell not
    named gets them all. `rung` (--screen): runs of a rung below the full budget, ids ending `.r<rung>`.
    `interim` (percentages of the budget): each run's training keeps a checkpoint at each, in `at<p>/`, and an
    `<run>.eval<p>` job evaluates it on a quarter of the episodes (at least 2): after the training, or while it
    runs once the snapshot exists (run folders on this machine: `JobGraph.early_interims`)."""
    paths = ExperimentPaths(Path(root))
    throughput = throughput or Throughput()

    suffix = f".r{rung}" if rung is not None else ""
    runs = [
        Run(
            run_id=run_id(experiment_id, arch, level, seed) + suffix,
            architecture=arch,
            level=level,
            seed=seed,
            seed_rank=rank,
            run_dir=paths.run_dir(run_id(experiment_id, arch, level, seed) + suffix),
            rung=rung,
        )
        for rank, seed in enumerate(seeds)
        for arch in architectures
        for level in levels
        if cells is None or rank < cells.get((arch, level), len(seeds))
    ]
    arch_index = {a: i for i, a in enumerate(architectures)}
    level_index = {lv: i for i, lv in enumerate(levels)}

    def budget(level: str) -> int:
        return (level_timesteps or {}).get(level, timesteps)

    def train_estimate(run: Run) -> float | None:
        return throughput.train_estimate(run.architecture, run.level, budget(run.level))

    def order(run: Run) -> tuple:
        est = train_estimate(run)
        return (
            run.seed_rank,
            -(est if est is not None else math.inf),
            arch_index[run.architecture],
            level_index[run.level],
        )

    runs.sort(key=order)

    jobs: list[PlannedJob] = []
    if baselines:
        for level in levels:
            job_id = baseline_id(experiment_id, level)
            out = paths.baseline_file(level)
            jobs.append(
                PlannedJob(
                    job_id=job_id,
                    run_id=job_id,
                    role=Role.BASELINE,
                    argv=cli_args("evaluate", policy="random", level=level, episodes=episodes, out=out),
                    run_dir=out.parent,
                    log_path=paths.log(job_id),
                    output=out,
                    level=level,
                    estimate_seconds=throughput.eval_estimate("random", level),
                )
            )
    for run in runs:
        train_id, eval_id = f"{run.run_id}.train", f"{run.run_id}.eval"
        jobs.append(
            PlannedJob(
                job_id=train_id,
                run_id=run.run_id,
                role=Role.TRAIN,
                argv=cli_args(
                    "train",
                    level=run.level,
                    architecture=run.architecture,
                    seed=run.seed,
                    timesteps=budget(run.level),
                    out=run.run_dir,
                    wandb_mode=wandb_mode,
                    experiment_id=experiment_id,
                    run_id=run.run_id,
                    architectures_module=architectures_module,
                    snapshots=",".join(str(p) for p in interim) or None,
                    quiet=True,
                ),
                run_dir=run.run_dir,
                log_path=paths.log(train_id),
                output=run.run_dir / "train_summary.json",
                level=run.level,
                estimate_seconds=train_estimate(run),
                timesteps=budget(run.level),
            )
        )
        jobs.append(
            PlannedJob(
                job_id=eval_id,
                run_id=run.run_id,
                role=Role.EVAL,
                argv=cli_args(
                    "evaluate",
                    run=run.run_dir,
                    episodes=episodes,
                    architectures_module=architectures_module,
                    wandb_mode=wandb_mode,
                ),
                run_dir=run.run_dir,
                log_path=paths.log(eval_id),
                output=run.run_dir / "eval.json",
                level=run.level,
                depends_on=train_id,
                estimate_seconds=throughput.eval_estimate(run.architecture, run.level),
            )
        )
        few = max(2, episodes // 4)
        for percent in interim:
            at = run.run_dir / f"at{percent}"
            estimate = throughput.eval_estimate(run.architecture, run.level)
            jobs.append(
                PlannedJob(
                    job_id=f"{run.run_id}.eval{percent}",
                    run_id=run.run_id,
                    role=Role.INTERIM,
                    argv=cli_args(
                        "evaluate",
                        run=at,
                        episodes=few,
                        out=at / "eval.json",
                        architectures_module=architectures_module,
                        wandb_mode="disabled",
                        replays=0,  # the final evaluation records the run's replays
                    ),
                    run_dir=at,
                    log_path=paths.log(f"{run.run_id}.eval{percent}"),
                    output=at / "eval.json",
                    level=run.level,
                    depends_on=train_id,
                    estimate_seconds=estimate * few / episodes if estimate is not None else None,
                    episodes=few,
                )
            )
    return Plan(experiment_id, paths, timesteps, episodes, runs, jobs, dict(level_timesteps or {}))


def estimate_makespan(plan: Plan, max_parallel: int, skip: set[str] | None = None) -> tuple[float, list[str]]:
    """List-schedule the jobs still to do on `max_parallel` slots with their estimates.

    Returns (seconds, job ids without an estimate); the seconds cover only the estimated jobs.
    """
    import heapq

    skip = skip or set()
    todo = [j for j in plan.jobs if j.job_id not in skip]
    unknown = [j.job_id for j in todo if j.estimate_seconds is None]
    slots = [0.0] * max(1, max_parallel)
    done_at: dict[str, float] = {}
    # evals after their training: schedule trains/baselines first, then evals at max(slot, train end)
    for job in [j for j in todo if j.role != Role.EVAL] + [j for j in todo if j.role == Role.EVAL]:
        start = heapq.heappop(slots)
        if job.depends_on in done_at:
            start = max(start, done_at[job.depends_on])
        end = start + (job.estimate_seconds or 0.0)
        done_at[job.job_id] = end
        heapq.heappush(slots, end)
    return (max(done_at.values()) if done_at else 0.0), unknown
