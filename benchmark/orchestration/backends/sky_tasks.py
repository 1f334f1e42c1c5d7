"""SkyPilot task configs for archbench jobs: plain dicts in the task YAML schema, built without importing sky.

Why dicts: one object is written to disk for `--dry-run`, validated offline by SkyPilot, and turned into a
`sky.Task` at launch. Secret values are added only at that last step (`to_sky_task(..., secrets=)`), so no
YAML on disk and no dict built here ever holds the W&B key.

Two modes, chosen by `SkyOptions.cluster`:
- managed jobs (default): one SkyPilot managed job per archbench job, with spot recovery; results go to a
  mounted bucket so a recovered job resumes from its latest checkpoint.
- cluster: one shared cluster launched once (`build_cluster_config`), then one `sky.exec` task per job
  (`build_task_config`) that asks for `gpus` GPUs; SkyPilot's job queue caps parallelism at the GPU count.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import os
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from benchmark.orchestration.backend import JobSpec
from benchmark.orchestration.backends.sky_names import KNOWN_ACCELERATORS, validate_accelerator  # noqa: F401
from benchmark.orchestration.backends.sky_options import SkyOptions

if TYPE_CHECKING:
    import sky

REMOTE_RESULTS = "/archbench-results"  # where the results bucket is mounted on every node
REMOTE_VENV = "$HOME/archbench-venv"  # the node's Python 3.11 env (SkyPilot images ship another Python)
LOCAL_RESULTS_FALLBACK = "archbench-results"  # relative to the job's cwd when no bucket is given
SECRET_ENV_VARS: tuple[str, ...] = ("WANDB_API_KEY",)

# SkyPilot's own rule (sky/task.py `_VALID_NAME_REGEX`).
SKY_TASK_NAME_RE = re.compile(r"[a-zA-Z0-9]+(?:[._-]{1,2}[a-zA-Z0-9]+)*")
_TORCH_REQ_RE = re.compile(r"^torch\s*(?:[<>=!~,\s.0-9*]+)?$")


# --- names and paths ----------------------------------------------------------------------------------------


def sky_name(text: str) -> str:
    """Map any id to a valid SkyPilot task/job name; a short hash keeps distinct ids distinct when changed."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text)
    cleaned = re.sub(r"[._-]{3,}", "-", cleaned).strip("._-") or "job"
    if cleaned != text:
        cleaned = f"{cleaned}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    assert SKY_TASK_NAME_RE.fullmatch(cleaned), cleaned
    return cleaned


def _path_component(run_id: str) -> str:
    """A run id as one safe path component (run ids are already safe; this guards against '/' and spaces)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", run_id).strip(".") or "run"


def remote_run_dir(spec: JobSpec, opts: SkyOptions) -> str:
    """The run folder on the node: on the mounted bucket if any, so checkpoints outlive the node."""
    root = REMOTE_RESULTS if opts.storage else LOCAL_RESULTS_FALLBACK
    return f"{root}/{_path_component(spec.run_id)}"


def remote_run_uri(spec: JobSpec, opts: SkyOptions) -> str | None:
    """Where the run folder lives in the bucket (for the controller to download results), or None."""
    return f"{opts.storage}/{_path_component(spec.run_id)}" if opts.storage else None


def remote_argv(spec: JobSpec, opts: SkyOptions) -> list[str]:
    """The job's argv with its local run folder (`--out X`, `--run X`, the bare path) made the node's.

    A path inside the run folder keeps its place in it (a baseline's `--out baselines/level_1.json`)."""
    local = str(spec.run_dir)
    remote = remote_run_dir(spec, opts)

    def moved(value: str) -> str:
        path = Path(value)
        if path != spec.run_dir and path.is_relative_to(spec.run_dir):
            return f"{remote}/{path.relative_to(spec.run_dir).as_posix()}"
        return remote

    out: list[str] = []
    for i, arg in enumerate(spec.argv):
        if arg == local:
            out.append(remote)
        elif i > 0 and spec.argv[i - 1] in ("--out", "--run"):
            out.append(moved(arg))
        elif arg.startswith(("--out=", "--run=")):
            flag, value = arg.split("=", 1)
            out.append(f"{flag}={moved(value)}")
        else:
            out.append(arg)
    return out


def _seed(spec: JobSpec) -> str | None:
    """The job's seed: its `--seed` argument, else the `.s<seed>` suffix of the run id."""
    argv = spec.argv
    for i, arg in enumerate(argv):
        if arg == "--seed" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--seed="):
            return arg.split("=", 1)[1]
    match = re.search(r"\.s(\d+)$", spec.run_id)
    return match.group(1) if match else None


def job_envs(spec: JobSpec, opts: SkyOptions) -> dict[str, str]:
    """Non-secret env vars of a job; secret names are dropped even if a caller put them in spec.env."""
    envs = {k: str(v) for k, v in spec.env.items() if k not in SECRET_ENV_VARS}
    envs.update(
        ARCHBENCH_RUN_ID=spec.run_id,
        ARCHBENCH_JOB_ID=spec.job_id,
        ARCHBENCH_ATTEMPT=str(spec.attempt),
        WANDB_MODE=opts.wandb_mode,
        WANDB_PROJECT=opts.wandb_project,
        WANDB_SILENT="true",
        ARCHBENCH_PRINT_RESULT="1",  # the job's log ends with its result (benchmark.orchestration.outputs)
    )
    seed = _seed(spec)
    if seed is not None:
        envs["ARCHBENCH_SEED"] = seed
    return envs


# --- setup and run scripts ----------------------------------------------------------------------------------


def project_root() -> Path | None:
    """This checkout's root (holding pyproject.toml), or None when the package is installed elsewhere."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() else None


def torch_requirement() -> str:
    """The project's own torch range, read from pyproject.toml (or installed metadata), never hard-coded."""
    root = project_root()
    if root is not None:
        deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    else:
        deps = importlib.metadata.requires("archbench") or []
    for dep in deps:
        dep = dep.split(";", 1)[0].strip()
        if _TORCH_REQ_RE.fullmatch(dep):
            return dep.replace(" ", "")
    raise RuntimeError("no torch requirement found in archbench's dependencies")


def setup_script(opts: SkyOptions, gpu: bool = True) -> str:
    """Install archbench on a GPU node: a Python 3.11 venv, a CUDA torch in the project's range, the project.

    The CUDA torch goes first from the PyTorch index (PyPI's default build may target a newer CUDA than the
    node's driver; a CPU build would silently train on CPU); the project install then keeps it. The last line
    fails the setup (FAILED_SETUP) if torch cannot see a GPU (a CPU-only job, `gpu=False`, skips that check).
    """
    if opts.repo_url is not None:
        project = shlex.quote(f"archbench @ git+{opts.repo_url}@{opts.git_commit}")
    else:
        project = "-e ."
    lines = [
        "set -eo pipefail",
        'export PATH="$HOME/.local/bin:$PATH"',
        "command -v uv >/dev/null || python3 -m pip install --quiet uv "
        "|| (curl -LsSf https://astral.sh/uv/install.sh | sh)",
        f'[ -x "{REMOTE_VENV}/bin/python" ] || uv venv --python 3.11 "{REMOTE_VENV}"',
        f'export VIRTUAL_ENV="{REMOTE_VENV}"',
        f"uv pip install --quiet {shlex.quote(torch_requirement())} --index-url {shlex.quote(opts.torch_index_url)}",
        f"uv pip install --quiet {project}",
    ]
    if gpu:
        lines.append(
            f'"{REMOTE_VENV}/bin/python" -c "import sys, torch; '
            "sys.exit(0 if torch.cuda.is_available() else 'torch ' + torch.__version__ + ' sees no GPU')\""
        )
    return "\n".join(lines) + "\n"


def run_script(spec: JobSpec, opts: SkyOptions) -> str:
    """`archbench <argv>` in the node's venv, writing to the run folder on the bucket."""
    lines = [
        "set -eo pipefail",
        f'source "{REMOTE_VENV}/bin/activate"',
        f"mkdir -p {shlex.quote(remote_run_dir(spec, opts))}",
        "exec " + shlex.join(["archbench", *remote_argv(spec, opts)]),
    ]
    return "\n".join(lines) + "\n"


# --- task configs -------------------------------------------------------------------------------------------


def _secrets_placeholder(opts: SkyOptions) -> dict[str, None]:
    # A null value declares the secret; SkyPilot fills it from `secrets_overrides` at launch.
    return {"WANDB_API_KEY": None} if opts.wandb_mode == "online" else {}


def _code_and_storage(opts: SkyOptions) -> dict[str, Any]:
    """workdir (when syncing local code) and the results bucket mount, shared by managed and cluster tasks."""
    out: dict[str, Any] = {}
    if opts.repo_url is None:
        workdir = opts.workdir if opts.workdir is not None else project_root()
        if workdir is None:
            raise ValueError("no workdir to sync: set SkyOptions.workdir, or repo_url and git_commit")
        out["workdir"] = str(workdir)
    if opts.storage:
        out["file_mounts"] = {REMOTE_RESULTS: {"source": opts.storage, "mode": opts.storage_mode}}
    return out


CPU_JOB_CPUS = "2+"  # a job that needs no GPU (the random baseline) asks for this many vCPUs instead


def gpu_or_cpu(spec: JobSpec, accelerator: str, gpus: int) -> dict[str, Any]:
    return {"accelerators": f"{accelerator}:{gpus}"} if spec.gpu else {"cpus": CPU_JOB_CPUS}


def build_task_config(spec: JobSpec, opts: SkyOptions) -> dict[str, Any]:
    """The SkyPilot task of one job: a managed job, or in cluster mode the task `sky.exec` runs there."""
    accelerator = validate_accelerator(opts.accelerator)
    cfg: dict[str, Any] = {"name": sky_name(spec.job_id)}
    if opts.mode == "managed":
        cfg["setup"] = setup_script(opts, gpu=spec.gpu)
    cfg["run"] = run_script(spec, opts)
    cfg["envs"] = job_envs(spec, opts)
    secrets = _secrets_placeholder(opts)
    if secrets:
        cfg["secrets"] = secrets
    if opts.mode == "managed":
        cfg.update(_code_and_storage(opts))
        resources: dict[str, Any] = gpu_or_cpu(spec, accelerator, opts.gpus)
        if opts.infra:
            resources["infra"] = opts.infra
        resources["use_spot"] = opts.use_spot
        resources["job_recovery"] = {
            "strategy": "EAGER_NEXT_REGION",
            "max_restarts_on_errors": opts.max_restarts_on_errors,
        }
    else:
        # The cluster already holds the code, the venv and the bucket mount; this only claims GPUs.
        resources = gpu_or_cpu(spec, accelerator, opts.gpus)
    cfg["resources"] = resources
    return cfg


def build_cluster_config(opts: SkyOptions) -> dict[str, Any]:
    """The shared cluster of cluster mode: nodes x gpus_per_node GPUs, code installed, bucket mounted."""
    if opts.cluster is None:
        raise ValueError("build_cluster_config needs SkyOptions.cluster")
    accelerator = validate_accelerator(opts.accelerator)
    resources: dict[str, Any] = {"accelerators": f"{accelerator}:{opts.node_gpus}"}
    if opts.infra:
        resources["infra"] = opts.infra
    resources["use_spot"] = opts.use_spot
    cfg: dict[str, Any] = {
        "name": sky_name(opts.cluster),
        "num_nodes": opts.nodes,
        "setup": setup_script(opts),
        "envs": {"WANDB_MODE": opts.wandb_mode, "WANDB_PROJECT": opts.wandb_project},
        "resources": resources,
    }
    cfg.update(_code_and_storage(opts))
    return cfg


def redact_secrets(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy with every secret value replaced by None (the declared-but-unset placeholder)."""
    out = copy.deepcopy(dict(cfg))
    if isinstance(out.get("secrets"), dict):
        out["secrets"] = {k: None for k in out["secrets"]}
    if isinstance(out.get("envs"), dict):
        out["envs"] = {k: v for k, v in out["envs"].items() if k not in SECRET_ENV_VARS}
    return out


class _ScriptDumper(yaml.SafeDumper):
    """Writes multi-line strings (setup/run scripts) as literal blocks, so the YAML reads like the script."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ScriptDumper.add_representer(str, _str_representer)


def task_yaml(cfg: Mapping[str, Any]) -> str:
    """A task config as YAML text, secrets redacted."""
    return yaml.dump(redact_secrets(cfg), Dumper=_ScriptDumper, sort_keys=False, default_flow_style=False)


def write_task_yaml(spec: JobSpec, opts: SkyOptions, path: Path) -> Path:
    """Write the job's task YAML (for `--dry-run`): secrets appear as declared names with null values."""
    header = (
        f"# SkyPilot task for {spec.job_id} ({opts.mode} mode), written by archbench.\n"
        "# Secret values are filled from the controller's environment at launch, never stored here.\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + task_yaml(build_task_config(spec, opts)))
    return path


def write_cluster_yaml(opts: SkyOptions, path: Path) -> Path:
    """Write the shared cluster's task YAML (cluster mode `--dry-run`)."""
    header = f"# SkyPilot cluster {opts.cluster} for archbench: launched once, jobs run on it via sky exec.\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + task_yaml(build_cluster_config(opts)))
    return path


def launch_secrets(opts: SkyOptions, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Secret values for launch, read from the controller's environment right before `to_sky_task`."""
    if opts.wandb_mode != "online":
        return {}
    env = os.environ if environ is None else environ
    key = env.get("WANDB_API_KEY", "")
    if not key:
        raise ValueError("wandb_mode is 'online' but WANDB_API_KEY is not set in the controller's env")
    return {"WANDB_API_KEY": key}


def to_sky_task(cfg: Mapping[str, Any], secrets: Mapping[str, str] | None = None) -> sky.Task:
    """Build and validate a `sky.Task` (imports sky: 2 s); secret values enter via SkyPilot's override."""
    import sky

    unknown = set(secrets or {}) - set(SECRET_ENV_VARS)
    if unknown:
        raise ValueError(f"unexpected secrets {sorted(unknown)}; known: {list(SECRET_ENV_VARS)}")
    overrides = list((secrets or {}).items()) or None
    task = sky.Task.from_yaml_config(copy.deepcopy(dict(cfg)), secrets_overrides=overrides)
    task.validate()
    return task
