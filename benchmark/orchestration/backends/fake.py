"""An in-process backend with scripted durations and outcomes: for tests and the orchestration benchmark.

A first-class backend (as submitit's debug executor is): the scheduler cannot tell it from a real one. A job
"runs" for its scripted duration of wall time; a successful one writes the files the real CLI would write
(train_summary.json + checkpoint.pt + metrics.jsonl, or the evaluator's JSON), so output collection is exercised
too. Never the shipped default: the controller only builds it when a test or benchmark asks for it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.orchestration.backend import BackendState, JobSpec, JobStatus


@dataclass(frozen=True)
class FakeOutcome:
    duration: float = 0.05  # seconds of wall time
    exit_code: int = 0  # non-zero: the job fails with it (3 = deterministic)
    hang: bool = False  # never ends, never writes anything (a stalled job), until cancelled
    write_outputs: bool = True  # on success, write the files the real job would write
    reward: float | None = None  # an evaluation's reward and hearts per agent (None: 1.0 trained, 0.1 random)


Script = Callable[[JobSpec], FakeOutcome]


@dataclass
class _Job:
    spec: JobSpec
    outcome: FakeOutcome
    started: float
    status: JobStatus | None = None


@dataclass
class FakeBackend:
    script: Script = field(default=lambda spec: FakeOutcome())
    poll_interval: float = 0.005
    submit_rate: float = 10_000.0
    name: str = "fake"
    local_files: bool = True
    concurrency_hint: int = 0
    launches: list[tuple[str, int]] = field(default_factory=list)  # (job_id, attempt) per submit
    max_running: int = 0  # most jobs ever running at once, as seen by this backend
    output_cpu_seconds: float = 0.0  # CPU spent writing the jobs' output files (the jobs' work, not the controller's)
    _jobs: dict[str, _Job] = field(default_factory=dict)
    _live: dict[str, _Job] = field(default_factory=dict)  # not ended yet
    _running: int = 0

    async def submit(self, spec: JobSpec) -> str:
        handle = f"fake-{len(self.launches)}"
        self.launches.append((spec.job_id, spec.attempt))
        self._jobs[handle] = self._live[handle] = _Job(spec, self.script(spec), time.monotonic())
        self._running += 1
        self.max_running = max(self.max_running, self._running)
        return handle

    async def poll(self, handles: list[str]) -> dict[str, JobStatus]:
        now = time.monotonic()
        out: dict[str, JobStatus] = {}
        for handle in handles:
            job = self._jobs.get(handle)
            if job is None:
                out[handle] = JobStatus(BackendState.LOST, None, "unknown to this fake backend")
                continue
            if job.status is None and not job.outcome.hang and now - job.started >= job.outcome.duration:
                code = job.outcome.exit_code
                if code == 0 and job.outcome.write_outputs:  # what the job's own process did before exiting
                    start = time.thread_time()
                    write_fake_outputs(job.spec.argv, reward=job.outcome.reward)
                    self.output_cpu_seconds += time.thread_time() - start
                state = BackendState.SUCCEEDED if code == 0 else BackendState.FAILED
                self._end(job, JobStatus(state, code, "" if code == 0 else f"exit {code}"))
            out[handle] = job.status or JobStatus(BackendState.RUNNING)
        return out

    def next_change_in(self) -> float | None:
        """Seconds until the next running job ends (a fake knows; real backends are polled at their interval)."""
        ends = [j.started + j.outcome.duration for j in self._live.values() if not j.outcome.hang]
        return max(0.0, min(ends) - time.monotonic()) if ends else None

    async def cancel(self, handles: list[str]) -> None:
        for handle in handles:
            job = self._jobs.get(handle)
            if job is not None and job.status is None:
                self._end(job, JobStatus(BackendState.CANCELLED, None, "cancelled by the controller"))

    async def fetch_logs(self, handle: str, dest: Path) -> Path | None:
        return None

    async def close(self) -> None:
        await self.cancel(list(self._jobs))

    def _end(self, job: _Job, status: JobStatus) -> None:
        job.status = status
        self._running -= 1
        self._live = {h: j for h, j in self._live.items() if j is not job}


# ---- what the real CLI would write -----------------------------------------------------------------------------


def parse_options(argv: Sequence[str]) -> tuple[str, dict[str, str]]:
    """("train", {"level": ..., "out": ...}) from a job's argv (flags without a value map to "true")."""
    command, options, i = argv[0], {}, 1
    while i < len(argv):
        key = argv[i].removeprefix("--").replace("-", "_")
        if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            options[key], i = argv[i + 1], i + 2
        else:
            options[key], i = "true", i + 1
    return command, options


def fake_simulation(reward: float) -> dict:
    interval = {"mean": reward, "ci_low": reward - 0.1, "ci_high": reward + 0.1, "std": 0.1}
    return {
        "episodes": 2,
        "seeds": [0, 1],
        "reward_per_agent": interval,
        "hearts_per_agent": interval,
        "gained_per_agent": {"ore": reward},
        "per_episode": {"reward_per_agent": [reward, reward], "hearts_per_agent": [reward, reward]},
    }


def fake_train_summary(opts: dict[str, str], out: Path, sps: float = 1000.0) -> dict:
    steps = int(opts["timesteps"])
    return {
        "level": opts["level"],
        "architecture": opts["architecture"],
        "seed": int(opts["seed"]),
        "agent_steps": steps,
        "wall_seconds": steps / sps,
        "sps": sps,
        "parameters": 1234,
        "checkpoint": str(out / "checkpoint.pt"),
        "resumed_from": 0,
        "device": "cpu",
        "threads": 1,
    }


def fake_eval_result(opts: dict[str, str], reward: float | None = None) -> dict:
    random = opts.get("policy") == "random"
    if reward is None:
        reward = 0.1 if random else 1.0
    return {
        "format": "archbench-eval-v1",
        "policy": "random" if random else "trained",
        "architecture": "random" if random else "fake",
        "level": opts.get("level", "unknown"),
        "checkpoint_agent_steps": 0,
        "episodes_per_simulation": int(opts.get("episodes", 16)),
        "eval_seed": 0,
        "seconds": 0.01,
        "simulations": {"basic": fake_simulation(reward)},
    }


def fake_result(argv: Sequence[str]) -> tuple[str, dict]:
    """(kind, data) of the ARCHBENCH_RESULT line the real CLI prints for this argv on a remote node."""
    command, opts = parse_options(argv)
    if command == "train":
        return "train", fake_train_summary(opts, Path(opts["out"]))
    if command == "evaluate":
        return "eval", fake_eval_result(opts)
    raise ValueError(f"fake job: unknown command {command!r}")


def write_fake_outputs(argv: Sequence[str], sps: float = 1000.0, reward: float | None = None) -> None:
    """Write the files `archbench train` / `archbench evaluate` write for this argv, with made-up numbers."""
    command, opts = parse_options(argv)
    if command == "train":
        out = Path(opts["out"])
        out.mkdir(parents=True, exist_ok=True)
        steps = int(opts["timesteps"])
        (out / "checkpoint.pt").write_bytes(b"fake checkpoint")
        with (out / "metrics.jsonl").open("a") as f:
            f.write(json.dumps({"agent_steps": steps, "sps": sps, "reward_per_agent": 1.0}) + "\n")
        (out / "train_summary.json").write_text(json.dumps(fake_train_summary(opts, out, sps)))
    elif command == "evaluate":
        target = Path(opts["out"]) if "out" in opts else Path(opts["run"]) / "eval.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(fake_eval_result(opts, reward)))
    else:
        raise ValueError(f"fake job: unknown command {command!r}")
