"""The controller's options: one pydantic model, filled from a recipe (TOML) and then the command line.

Recipes are named experiments in `recipes/NAME.toml` at the project root: flat `key = value` pairs with the
option names (`max_parallel` or `max-parallel`). Flags given on the command line override the recipe.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from benchmark.errors import UsageError, pydantic_message
from benchmark.orchestration.backends.sky_names import validate_accelerator, validate_cloud
from benchmark.orchestration.resume import ledger_config, percentages, reconcile

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"
DEFAULT_EPISODES = 16  # as benchmark.evaluation.evaluator (not imported: it imports torch)


class ExperimentOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment_id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
        description="names the experiment: results/<id>/, run ids <id>.<architecture>.<level>.s<seed>",
    )
    timesteps: int = Field(gt=0, description="agent steps per training run")
    level_timesteps: dict[str, int] = Field(
        default_factory=dict, description="per-level budgets overriding timesteps (recipes: a [level_timesteps] table)"
    )
    local: bool = Field(False, description="run jobs as subprocesses on this machine (else SkyPilot)")
    max_parallel: int | None = Field(
        None, ge=1, description="jobs at once, train and eval (default: factory.default_max_parallel)"
    )
    seeds_per_level: int = Field(
        3, ge=1, description="seeds per (architecture, level) cell: seeds 0..n-1 (--adaptive: seeds per interim)"
    )
    adaptive: bool = Field(False, description="sequential seeds: add seeds only where a comparison is not decided yet")
    max_seeds: int | None = Field(
        None, ge=2, description="--adaptive: seeds per cell at most (default 4 x --seeds-per-level)"
    )
    alpha: float = Field(0.05, gt=0, lt=1, description="--adaptive: family-wise error over a level's comparisons")
    futility: float = Field(
        0.2, ge=0, lt=1, description="--adaptive: a pair whose conditional power at the cap is below this stops"
    )
    interim_evals: list[int] = Field(
        default_factory=list,
        description="evaluate each run's checkpoint at these percentages of its budget too (fewer episodes)",
    )
    screen: bool = Field(
        False, description="successive halving: every architecture at a small budget, the better half continues"
    )
    screen_rungs: int = Field(3, ge=2, le=8, description="--screen: rungs; rung 0 trains full budget / 2^(rungs-1)")
    architectures: list[str] | None = Field(None, description="architecture names (default: all registered)")
    levels: list[str] | None = Field(None, description="level names (default: all five)")
    skip_training: bool = Field(False, description="evaluate existing checkpoints only")
    reevaluate: bool = Field(
        False,
        description="evaluate every checkpoint (and baseline) again, also finished ones, e.g. with other --episodes; "
        "implies --skip-training; the earlier results stay in the ledger (`previous`) and as eval.<k>.json",
    )
    retries: int = Field(2, ge=0, description="retries of a failed job (not for deterministic failures)")
    retry_backoff: float = Field(10.0, ge=0, description="seconds before the first retry; doubles each time")
    output_dir: Path = Field(Path("results"), description="experiments live in <output_dir>/<experiment_id>")
    wandb_mode: Literal["offline", "online", "disabled"] | None = Field(
        None, description="W&B mode of the jobs (default: offline with --local, else online)"
    )
    dry_run: bool = Field(False, description="print the plan, launch nothing")
    probe: bool = Field(
        True, description="--dry-run --local: train a few seconds per cell without measured throughput (cached)"
    )
    extend: bool = Field(False, description="resuming: add the architectures, levels or seeds given to the grid")
    episodes: int = Field(DEFAULT_EPISODES, ge=1, description="evaluation episodes per simulation")
    architectures_module: str | None = Field(None, description="module or .py file registering more architectures")
    stall_timeout: float = Field(
        900.0, gt=0, description="kill and retry a job whose log/metrics show no progress for this many seconds"
    )
    jobs_per_gpu: int = Field(1, ge=1, description="jobs sharing one GPU (local, with GPUs)")
    # ---- the cloud (SkyPilot; ignored with --local) ----
    gpus: int = Field(1, ge=1, description="GPUs per job on the cloud")
    accelerator: str = Field("L4", description="GPU type on the cloud (checked against known names)")
    cloud: str | None = Field(None, description="SkyPilot infra: aws, gcp/us-central1, k8s (default: any enabled)")
    use_spot: bool = Field(False, description="spot instances; managed jobs recover from preemption")
    storage: str | None = Field(None, description="bucket URI (s3://b/p, gs://b/p) holding the run folders")
    cluster: str | None = Field(None, description="cluster mode: run every job on this one shared cluster")
    eval_where: Literal["cloud", "local"] = Field(
        "cloud", description="where evaluations run: on the cloud, or here from the checkpoints in --storage"
    )
    nodes: int | None = Field(None, ge=1, description="cluster mode: nodes of the shared cluster (default 1)")
    gpus_per_node: int | None = Field(None, ge=1, description="cluster mode: GPUs per node (default --gpus)")
    recipe: str | None = Field(None, description="the recipe these options came from")

    @property
    def interims(self) -> int:
        """--adaptive: K, the interims a cell may get n more seeds at."""
        return (self.max_seeds or 4 * self.seeds_per_level) // self.seeds_per_level

    @field_validator("accelerator")
    @classmethod
    def _accelerator(cls, value: str) -> str:
        return validate_accelerator(value)  # before anything launches: SkyPilot itself accepts any name

    @field_validator("level_timesteps")
    @classmethod
    def _level_budgets(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if not isinstance(v, int) or v <= 0}
        if bad:
            raise ValueError(f"budgets must be positive agent-step counts, got {bad}")
        return value

    @field_validator("cloud")
    @classmethod
    def _cloud(cls, value: str | None) -> str | None:
        return validate_cloud(value) if value is not None else None

    @field_validator("interim_evals", mode="before")
    @classmethod
    def _percentages(cls, value: Any) -> Any:
        return percentages(value) if isinstance(value, str | list) else value

    @field_validator("architectures", "levels", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",")]
        if isinstance(value, list):
            value = [v for v in value if not isinstance(v, str) or v]
            if not value:
                raise ValueError("needs at least one name")
            if len(set(value)) != len(value):
                raise ValueError("lists a name twice")
        return value


RECIPE_KEYS = set(ExperimentOptions.model_fields) - {"recipe", "dry_run", "extend", "reevaluate"}
CLOUD_ONLY = (
    "storage",
    "accelerator",
    "cloud",
    "use_spot",
    "gpus",
    "cluster",
    "nodes",
    "gpus_per_node",
    "eval_where",
)


def recipe_path(name: str) -> Path:
    """A recipe by name (`smoke`) or path (`recipes/smoke.toml`, any .toml file)."""
    path = Path(name)
    if path.suffix == ".toml" or "/" in name:
        candidates = [path, RECIPES_DIR.parent / path]
    else:
        candidates = [RECIPES_DIR / f"{name}.toml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))) or "none"
    raise UsageError(f"recipe {name!r} not found (looked at {candidates[0]}); shipped recipes: {known}")


def load_recipe(name: str) -> dict[str, Any]:
    path = recipe_path(name)
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"recipe {path} is not valid TOML: {' '.join(str(exc).split())}") from None
    values = {key.replace("-", "_"): value for key, value in raw.items() if key != "description"}
    unknown = sorted(set(values) - RECIPE_KEYS)
    if unknown:
        raise UsageError(
            f"recipe {path}: unknown key{'s' * (len(unknown) > 1)} {', '.join(unknown)}; "
            f"valid: description, {', '.join(sorted(RECIPE_KEYS))}"
        )
    return values


def resolve_options(flags: dict[str, Any]) -> ExperimentOptions:
    """Recipe values, overridden by the flags given (None = not given), validated; UsageError in one line.

    Resuming an experiment, whatever was not given comes from its ledger, and what contradicts it is refused
    (see `resume.reconcile`)."""
    given = {k: v for k, v in flags.items() if v is not None}
    values: dict[str, Any] = {}
    if given.get("recipe"):
        values.update(load_recipe(given["recipe"]))
    values.update(given)
    if "experiment_id" not in values:
        raise UsageError("missing --experiment-id (or a --recipe that sets it, e.g. --recipe first)")
    if isinstance(values["experiment_id"], str):
        stored = ledger_config(Path(values.get("output_dir") or "results"), values["experiment_id"])
        if stored is not None:
            values = reconcile(values, stored, bool(values.get("extend")))
    if "timesteps" not in values:
        raise UsageError("missing --timesteps (or a --recipe that sets it, e.g. --recipe first)")
    cloud_flags = [f"--{k.replace('_', '-')}" for k in CLOUD_ONLY if k in given]
    if values.get("local") and cloud_flags:  # a recipe may name a cloud setup; a flag given with --local is a slip
        raise UsageError(
            f"{', '.join(cloud_flags)} only appl{'ies' if len(cloud_flags) == 1 else 'y'} on the cloud: drop "
            f"{'it' if len(cloud_flags) == 1 else 'them'} to run here with --local, or use --no-local"
        )
    try:
        options = ExperimentOptions.model_validate(values)
    except ValidationError as exc:
        raise UsageError(pydantic_message(exc)) from None
    if options.reevaluate:
        options = options.model_copy(update={"skip_training": True})
    if options.screen and options.adaptive:
        raise UsageError("--screen and --adaptive are two ways to spend the budget: choose one")
    if options.extend and (options.screen or options.adaptive):
        mode = "--adaptive" if options.adaptive else "--screen"
        raise UsageError(
            f"--extend would change the architectures a {mode} experiment compares, and so its decisions: "
            "start another --experiment-id"
        )
    if options.adaptive:
        n = options.seeds_per_level
        if n < 2:
            raise UsageError(f"--adaptive needs --seeds-per-level of at least 2 (the seeds per interim), got {n}")
        if options.max_seeds is not None and options.max_seeds < n:
            raise UsageError(f"--max-seeds {options.max_seeds} is below --seeds-per-level {n} (seeds per interim)")
    return options
