"""`<output-dir>/<experiment>/benchmark_results.json`: the experiment's one source of truth.

Rewritten atomically (temp file + fsync + os.replace) on every state change, so it is always a complete, valid
record, also after a SIGKILL. A restarted controller reads it back to resume: successful jobs are never run
again; a job recorded as running keeps its backend name and handle, so it can be re-attached or restarted.
A file that is not valid JSON, fails the schema, or belongs to another experiment is refused with one line and
never overwritten.
"""

from __future__ import annotations

import asyncio
import json
import platform
import subprocess
import time
from datetime import UTC, datetime
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from benchmark.atomic import atomic_write_text
from benchmark.errors import UsageError

LEDGER_FORMAT = "archbench-results-v1"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class LedgerError(UsageError):
    """The results file cannot be used (corrupt, foreign, other experiment): one line, exit 2."""


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class Attempt(_Model):
    """One launch of a job."""

    attempt: int = Field(description="1-based, counted over the experiment's whole life (all sessions)")
    started_at: str
    ended_at: str | None = None
    duration_seconds: float | None = None
    outcome: str = Field("running", description="success, failed, deterministic, stalled, lost, interrupted")
    exit_code: int | None = None
    detail: str = Field("", description="one line: why it ended that way")
    backend: str | None = None
    handle: str | None = None


class JobRecord(_Model):
    """The state of one job; `history` keeps every attempt."""

    job_id: str
    status: Status = Status.PENDING
    attempts: int = Field(0, description="launches so far, over all sessions")
    duration_seconds: float | None = Field(None, description="wall time of the last attempt")
    command: str = Field(description="the job's command line, as a user would run it by hand")
    log: str = Field(description="the job's log file (every attempt appends)")
    error: str | None = Field(None, description="one line: why it failed or was skipped")
    backend: str | None = Field(None, description="backend that runs/ran it (to re-attach after a restart)")
    handle: str | None = Field(None, description="backend job id (local: pid) of the current/last attempt")
    started_at: str | None = None
    ended_at: str | None = None
    history: list[Attempt] = Field(default_factory=list)


class TrainMetrics(_Model):
    """Read from the job's RUN_DIR/train_summary.json (and metrics.jsonl for the curve)."""

    agent_steps: int = Field(description="agent steps trained (whole steps of every row: at most a row over)")
    timesteps_requested: int | None = Field(None, description="agent steps asked for (--timesteps)")
    settings: dict[str, float] | None = Field(None, description="effective lr, epochs, minibatches, bptt, entropy")
    sps: float = Field(description="agent steps per second of the last attempt")
    parameters: int
    checkpoint: str
    wall_seconds: float
    device: str | None = None
    threads: int | None = None
    resumed_from: int = 0
    metrics_file: str | None = Field(None, description="the learning curve, one JSON line every ~5 s")
    wandb: str | None = Field(None, description="the W&B run URL (online) or offline run folder")
    stopped_early: str | None = Field(None, description="why training ended before its budget (collapsed policy)")


class Interval(_Model):
    mean: float
    ci_low: float
    ci_high: float
    std: float | None = None


class SimulationMetrics(_Model):
    episodes: int
    reward_per_agent: Interval
    hearts_per_agent: Interval
    gained_per_agent: dict[str, float] = Field(default_factory=dict)
    behaviour_per_agent: dict[str, float] = Field(
        default_factory=dict, description="per agent per episode: idle steps, wall bumps, cells visited, ... (eval)"
    )


class EvalMetrics(_Model):
    """Read from the evaluator's JSON (RUN_DIR/eval.json, baselines/<level>.json); per-episode values stay there."""

    file: str
    policy: str
    episodes_per_simulation: int
    checkpoint_agent_steps: int = 0
    seconds: float | None = None
    simulations: dict[str, SimulationMetrics]
    wandb: str | None = Field(None, description="the W&B run URL (online) or offline run folder")


class TrainingRecord(JobRecord):
    metrics: TrainMetrics | None = None


class EvaluationRecord(JobRecord):
    metrics: EvalMetrics | None = None
    previous: list[EvalMetrics] = Field(
        default_factory=list, description="earlier results, oldest first (--reevaluate); each names its kept file"
    )


class BaselineRecord(EvaluationRecord):
    level: str


class RunRecord(_Model):
    run_id: str
    architecture: str
    level: str
    seed: int
    run_dir: str
    training: TrainingRecord
    evaluation: EvaluationRecord
    rung: int | None = Field(None, description="--screen: a rung below the full budget (not in the ranking)")
    interim: dict[str, EvaluationRecord] = Field(
        default_factory=dict, description="--interim-evals: the checkpoint at <p>% of the budget, evaluated"
    )


class Environment(_Model):
    python: str
    torch: str | None
    mettagrid: str | None
    git_commit: str | None
    git_dirty: bool | None = None
    platform: str
    hostname: str
    cpus: int


class Session(_Model):
    """One controller invocation on this experiment (a resume adds one)."""

    started_at: str
    ended_at: str | None = None
    command: str
    pid: int
    git_commit: str | None = None  # the code this session ran (a resume may run newer code)
    # running, complete, failed, interrupted, backend unavailable; a crashed controller's session stays running
    outcome: str = "running"


class Comparison(_Model):
    """One pairwise comparison of the adaptive mode, as it stands."""

    a: str
    b: str
    decision: Literal["larger", "smaller", "equal", "futile", "continue"] = Field(
        description="a vs b: larger/smaller (a difference, family-wise error controlled), equal (none found by "
        "the seed cap), futile (stopped early: its conditional power at the cap was below the futility level), "
        "continue (undecided yet)"
    )
    stage: int | None = Field(None, description="the interim (0-based) that decided it")
    statistic: float = Field(
        description="|mean a - mean b| at the last interim that tested it (ledgers before 2026-11-29: (interim+1) x)"
    )
    mean_a: float
    mean_b: float
    p_value: float | None = Field(None, description="its permutation p-value at that interim (None: older ledgers)")
    conditional_power: float | None = Field(
        None, description="the chance, under the difference seen so far, of a decision by the cap (last computed)"
    )


class Interim(_Model):
    stage: int
    seeds: dict[str, int] = Field(description="seeds each architecture contributed at this interim")
    boundary: float | None = Field(
        description="the p-value the last undecided pair had to reach (Holm); before 2026-11-29 the package's "
        "boundary on its statistic (None: infinite)"
    )
    decided: list[str] = Field(default_factory=list, description="'a vs b' pairs decided at this interim")
    level: float | None = Field(None, description="the share of alpha this interim spent (0: its seeds cannot decide)")
    futile: list[str] = Field(default_factory=list, description="'a vs b' pairs stopped for futility at this interim")


class LevelDecisions(_Model):
    status: str = Field(description="deciding, decided, cap reached, or blocked: why")
    interims: list[Interim] = Field(default_factory=list)
    comparisons: list[Comparison] = Field(default_factory=list)
    seeds: dict[str, int] = Field(default_factory=dict, description="seeds each architecture is given so far")


class AdaptiveRecord(_Model):
    """`--adaptive`: sequential seeds decided by tests per level; recomputed from the runs at every interim."""

    method: str
    metric: str
    alpha: float
    seeds_per_stage: int
    max_stages: int
    permutations: int
    futility: float | None = Field(None, description="conditional power below which a pair stops (None: older)")
    levels: dict[str, LevelDecisions] = Field(default_factory=dict)


class RungResult(_Model):
    rung: int
    budget: int = Field(description="agent steps of this rung's trainings")
    scores: dict[str, float | None] = Field(description="median over seeds per architecture (None: no score)")
    kept: list[str] = Field(default_factory=list, description="continue to the next rung (best first)")
    stopped: list[str] = Field(default_factory=list, description="stopped here: ranked in the lower part")


class ScreeningRecord(_Model):
    """`--screen`: successive halving per level; recomputed from the runs after every evaluation."""

    metric: str
    budgets: list[int] = Field(description="agent steps per rung, the last the full budget")
    keep: float = Field(description="share of the architectures that continue after a rung")
    levels: dict[str, list[RungResult]] = Field(default_factory=dict)


class Ledger(_Model):
    format: Literal["archbench-results-v1"] = LEDGER_FORMAT
    experiment_id: str
    start_time: str
    end_time: str | None = None
    updated_time: str
    max_timesteps: int
    config: dict[str, Any]
    environment: Environment
    sessions: list[Session] = Field(default_factory=list)
    baselines: dict[str, BaselineRecord] = Field(default_factory=dict, description="random policy, per level")
    runs: list[RunRecord] = Field(default_factory=list)
    adaptive: AdaptiveRecord | None = Field(None, description="--adaptive: the decisions so far")
    screening: ScreeningRecord | None = Field(None, description="--screen: which architectures stopped where")

    _index: dict[str, RunRecord] = PrivateAttr(default_factory=dict)

    def run(self, run_id: str) -> RunRecord | None:
        if len(self._index) != len(self.runs):
            self._index = {r.run_id: r for r in self.runs}
        return self._index.get(run_id)


def read_ledger(path: Path, experiment_id: str | None = None) -> Ledger | None:
    """The ledger at `path`, None if there is none; LedgerError (one line) for anything we must not overwrite."""
    if not path.exists():
        return None
    advice = "refusing to touch it; move it away or use another --experiment-id"
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LedgerError(f"{path} is corrupt ({type(exc).__name__}: {' '.join(str(exc).split())}); {advice}") from None
    if not isinstance(raw, dict) or raw.get("format") != LEDGER_FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise LedgerError(
            f"{path} is not an archbench results file (format {found!r}, expected {LEDGER_FORMAT!r}); {advice}"
        )
    if experiment_id is not None and raw.get("experiment_id") != experiment_id:
        raise LedgerError(f"{path} belongs to experiment {raw.get('experiment_id')!r}, not {experiment_id!r}; {advice}")
    try:
        return Ledger.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LedgerError(
            f"{path} does not match the results schema ({exc.error_count()} errors, first at {where}: "
            f"{first['msg']}); {advice}"
        ) from None


class LedgerStore:
    """The in-memory ledger and its file.

    Call `changed(run_ids)` after every state change. The file is rewritten at once, unless the previous
    rewrite was very recent: rewrites are spaced so that they take at most `duty` of the controller's time
    (1,000 jobs finishing within seconds would otherwise spend all the time rewriting a 500-run ledger). Only
    the runs named as changed are serialised again; the others reuse their last JSON line. Changes inside
    that short gap are written together at its end, and `flush()` writes whatever is pending. A change lost
    to a SIGKILL in that gap is harmless: a restarted controller checks each unfinished job's output files.
    """

    def __init__(self, path: Path, ledger: Ledger, fsync: bool = True, duty: float = 0.05):
        self.path = path
        self.ledger = ledger
        self.fsync = fsync
        self.duty = duty
        self.writes = 0
        self.dirty = False
        self._next_allowed = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._fragments: dict[str, str] = {}  # run_id -> that run's JSON line, valid until the run is touched

    def render(self) -> str:
        """The file's text: the header indented, then one line per run (re-serialised only when touched)."""
        lines = []
        for run in self.ledger.runs:
            line = self._fragments.get(run.run_id)
            if line is None:
                line = self._fragments[run.run_id] = run.model_dump_json()
            lines.append(line)
        head = self.ledger.model_dump_json(indent=1, exclude={"runs"})
        return head[: head.rindex("}")].rstrip() + ',\n "runs": [\n' + ",\n".join(lines) + "\n ]\n}\n"

    def save(self, full: bool = True) -> None:
        """Write now (atomically). `full`: serialise every run again; else only those `changed()` named."""
        start = time.monotonic()
        if full:
            self._fragments.clear()
        self.ledger.updated_time = now_iso()
        atomic_write_text(self.path, self.render(), fsync=self.fsync)
        end = time.monotonic()
        self._next_allowed = end + (end - start) * (1.0 / self.duty - 1.0)
        self.writes += 1
        self.dirty = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def changed(self, *run_ids: str) -> None:
        """Records of these runs changed (none named: anything may have changed). Writes now or very soon."""
        if run_ids:
            for run_id in run_ids:
                self._fragments.pop(run_id, None)
        else:
            self._fragments.clear()
        self.dirty = True
        delay = self._next_allowed - time.monotonic()
        if delay <= 0:
            self.save(full=False)
            return
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.save(full=False)
                return
            self._timer = loop.call_later(delay, self.flush)

    def flush(self) -> None:
        self._timer = None
        if self.dirty:
            self.save(full=False)


# ---- environment ---------------------------------------------------------------------------------------------


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_output(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def capture_environment(project_root: Path) -> Environment:
    """Versions and commit, without importing torch or mettagrid (package metadata only)."""
    from benchmark.cpus import available_cpus

    commit = git_output(project_root, "rev-parse", "HEAD")
    status = git_output(project_root, "status", "--porcelain", "--untracked-files=no") if commit else None
    return Environment(
        python=platform.python_version(),
        torch=_version("torch"),
        mettagrid=_version("mettagrid"),
        git_commit=commit,
        git_dirty=bool(status) if status is not None else None,
        platform=f"{platform.system()} {platform.machine()}",
        hostname=platform.node(),
        cpus=available_cpus(),
    )
