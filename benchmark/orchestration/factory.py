"""Which backend runs an experiment's jobs, and the cloud options behind it.

Backends are built lazily: importing this module, or running with --local, never imports sky (2 s); the SkyPilot
backend imports it only when it builds or launches a task.

Defaults that depend on the backend:
- `--max-parallel`: min(4, cpus) locally; in cluster mode nodes x gpus-per-node / gpus (every GPU slot busy,
  SkyPilot's own queue would hold the rest); else MANAGED_MAX_PARALLEL managed jobs, a cap on spend and on
  the jobs controller's load (SkyPilot has no per-user limit: the client must cap).
- `--wandb-mode`: offline locally (nothing leaves the machine); on the cloud online when WANDB_API_KEY is set in
  the controller's environment (it reaches the nodes as a SkyPilot secret), else offline.
- The code on the nodes: when this checkout is clean and its HEAD is on a branch of an https `origin`, nodes
  install that exact commit from git; otherwise SkyPilot syncs the working tree (workdir), uncommitted changes
  included.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from benchmark.errors import UsageError
from benchmark.orchestration.backend import Backend
from benchmark.orchestration.bucket import SCHEMES, supported
from benchmark.orchestration.ledger import git_output
from benchmark.orchestration.options import ExperimentOptions

if TYPE_CHECKING:
    from benchmark.orchestration.backends.sky_options import SkyOptions
    from benchmark.orchestration.plan import Plan

JOB_PROGRAM_ENV = "ARCHBENCH_JOB_PROGRAM"  # local jobs run `<program> <argv>`; default: python -m benchmark.cli
MANAGED_MAX_PARALLEL = 8  # managed jobs at once when --max-parallel is not given
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# SkyOptions field -> the flag that sets it (for one-line errors)
SKY_FLAGS = {
    "gpus": "--gpus",
    "accelerator": "--accelerator",
    "infra": "--cloud",
    "use_spot": "--use-spot",
    "storage": "--storage",
    "cluster": "--cluster",
    "nodes": "--nodes",
    "gpus_per_node": "--gpus-per-node",
    "wandb_mode": "--wandb-mode",
}


def cloud_mode(options: ExperimentOptions) -> str:
    return "cluster" if options.cluster else "managed"


def default_max_parallel(options: ExperimentOptions) -> int:
    """--max-parallel when not given (see the module docstring)."""
    if options.local:
        from benchmark.cpus import available_cpus

        return min(4, available_cpus())
    if options.cluster:
        per_node = options.gpus_per_node or options.gpus
        return max(1, (options.nodes or 1) * per_node // options.gpus)
    return MANAGED_MAX_PARALLEL


def resolve_wandb_mode(options: ExperimentOptions, environ: Mapping[str, str] | None = None) -> str:
    if options.wandb_mode:
        return options.wandb_mode
    if options.local:
        return "offline"
    env = os.environ if environ is None else environ
    return "online" if env.get("WANDB_API_KEY") else "offline"


def code_source(root: Path = PROJECT_ROOT) -> tuple[str, str] | None:
    """(repo_url, commit) when nodes can install exactly this code from git, else None (sync the workdir).

    Needs a clean tree (untracked files count: a new module would be missing), an https `origin` (nodes hold no
    ssh key) and HEAD on one of its remote branches (as of the last fetch: pushed, so the nodes can check it out).
    """
    commit = git_output(root, "rev-parse", "HEAD")
    if not commit or git_output(root, "status", "--porcelain") != "":
        return None
    url = git_output(root, "remote", "get-url", "origin")
    if not url or not url.startswith("https://"):
        return None
    if not git_output(root, "branch", "-r", "--contains", commit):
        return None
    return url, commit


def sky_options(options: ExperimentOptions, wandb_mode: str, source: tuple[str, str] | None = None) -> SkyOptions:
    """The SkyPilot options of an experiment, checked before anything launches (UsageError in one line)."""
    from benchmark.orchestration.backends.sky_options import SkyOptions

    if not options.cluster and (options.nodes is not None or options.gpus_per_node is not None):
        raise UsageError("--nodes and --gpus-per-node only apply in cluster mode: add --cluster NAME")
    values: dict[str, object] = dict(
        gpus=options.gpus,
        accelerator=options.accelerator,
        infra=options.cloud,
        use_spot=options.use_spot,
        storage=options.storage,
        # the trainer appends to metrics.jsonl and renames checkpoints into place: MOUNT (streaming) does not
        # support appends; MOUNT_CACHED writes locally and uploads, and SkyPilot flushes it before a job ends
        storage_mode="MOUNT_CACHED",
        cluster=options.cluster,
        wandb_mode=wandb_mode,
    )
    if options.cluster:
        values.update(nodes=options.nodes or 1, gpus_per_node=options.gpus_per_node)
    if source is not None:
        values.update(repo_url=source[0], git_commit=source[1])
    try:
        return SkyOptions(**values)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            message = err["msg"].removeprefix("Value error, ")
            parts.append(f"{SKY_FLAGS.get(field, '--' + field.replace('_', '-'))}: {message}" if field else message)
        raise UsageError("; ".join(parts)) from None


def check_cloud_launch(options: ExperimentOptions, wandb_mode: str, environ: Mapping[str, str] | None = None) -> None:
    """What a real cloud launch needs beyond valid options (a dry run only warns about these)."""
    problems = cloud_problems(options, wandb_mode, environ)
    if problems:
        raise UsageError(problems[0])


def cloud_problems(options: ExperimentOptions, wandb_mode: str, environ: Mapping[str, str] | None = None) -> list[str]:
    problems = []
    if options.storage is None and not (options.cluster and (options.nodes or 1) == 1):
        problems.append(
            "--storage URI is needed on the cloud (e.g. --storage s3://my-bucket/archbench): training writes "
            "its checkpoint there, evaluation reads it on another node, and a recovered spot job resumes from it; "
            "or add --local to run on this machine"
        )
    if options.skip_training:
        problems.append("--skip-training needs --local: on the cloud the checkpoints live on the bucket")
    if options.eval_where == "local":
        if options.storage is None:
            problems.append(
                "--eval-where local needs --storage: evaluations here copy the checkpoints training nodes left there"
            )
        elif not supported(options.storage):
            problems.append(
                f"--eval-where local copies checkpoints from {', '.join(SCHEMES)} buckets, not {options.storage!r}"
            )
    env = os.environ if environ is None else environ
    if wandb_mode == "online" and not env.get("WANDB_API_KEY"):
        problems.append("--wandb-mode online needs WANDB_API_KEY in this shell (export WANDB_API_KEY=...)")
    return problems


def make_backend(options: ExperimentOptions, wandb_mode: str | None = None) -> Backend:
    from benchmark.orchestration.backends.local import LocalBackend

    program = os.environ.get(JOB_PROGRAM_ENV)
    if options.local:
        return LocalBackend(jobs_per_gpu=options.jobs_per_gpu, program=shlex.split(program) if program else None)
    from benchmark.orchestration.backends.sky import SkyBackend

    mode = wandb_mode or resolve_wandb_mode(options)
    opts = sky_options(options, mode, code_source())
    check_cloud_launch(options, mode)
    if options.eval_where == "local":
        from benchmark.orchestration.backends.split import SplitBackend

        return SplitBackend(SkyBackend(opts), LocalBackend(program=shlex.split(program) if program else None))
    return SkyBackend(opts)


def write_sky_yamls(plan: Plan, opts: SkyOptions, eval_where: str = "cloud") -> tuple[Path, int]:
    """--dry-run on the cloud: every cloud job's task YAML (and the cluster's) under <experiment>/sky/, secrets
    redacted; with `eval_where` "local" only the trainings run on the cloud.

    Pure file writing: builds no sky.Task, imports no sky, contacts no API server.
    """
    from benchmark.orchestration.backends.sky_tasks import write_cluster_yaml, write_task_yaml
    from benchmark.orchestration.jobs import job_spec
    from benchmark.orchestration.plan import Role

    folder = plan.paths.root / "sky"
    jobs = [j for j in plan.jobs if eval_where == "cloud" or j.role == Role.TRAIN]
    for job in jobs:
        write_task_yaml(job_spec(job, attempt=1), opts, folder / f"{job.job_id}.yaml")
    count = len(jobs)
    if opts.cluster:
        write_cluster_yaml(opts, folder / f"cluster-{opts.cluster}.yaml")
        count += 1
    return folder, count
