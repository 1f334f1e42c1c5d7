"""SkyPilot task configs: each generated task passes SkyPilot's own offline validation; no secret leaks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from benchmark.orchestration.backend import JobKind, JobSpec
from benchmark.orchestration.backends.sky_tasks import (
    KNOWN_ACCELERATORS,
    REMOTE_RESULTS,
    SKY_TASK_NAME_RE,
    SkyOptions,
    build_cluster_config,
    build_task_config,
    launch_secrets,
    remote_argv,
    remote_run_uri,
    sky_name,
    to_sky_task,
    torch_requirement,
    validate_accelerator,
    write_cluster_yaml,
    write_task_yaml,
)

RUN_ID = "exp1.lstm.level_2.s3"
RUN_DIR = Path("results/exp1") / RUN_ID


def train_spec(**overrides: Any) -> JobSpec:
    fields: dict[str, Any] = dict(
        job_id=f"{RUN_ID}.train",
        run_id=RUN_ID,
        kind=JobKind.TRAIN,
        argv=(
            "train",
            "--level",
            "level_2",
            "--architecture",
            "lstm",
            "--seed",
            "3",
            "--timesteps",
            "50000",
            "--out",
            str(RUN_DIR),
        ),
        run_dir=RUN_DIR,
        log_path=Path("results/exp1/logs") / f"{RUN_ID}.train.log",
        attempt=2,
        env={"ARCHBENCH_EXTRA": "1"},
    )
    fields.update(overrides)
    return JobSpec(**fields)


def eval_spec() -> JobSpec:
    return train_spec(
        job_id=f"{RUN_ID}.eval",
        kind=JobKind.EVAL,
        attempt=1,
        argv=("evaluate", "--run", str(RUN_DIR), "--episodes", "20"),
    )


MANAGED_OPTIONS: dict[str, dict[str, Any]] = {
    "managed-default": {},
    "managed-spot-storage-online": dict(
        use_spot=True, storage="s3://archbench-bucket/runs", infra="aws", wandb_mode="online"
    ),
    "managed-gcs-no-spot": dict(storage="gs://archbench-bucket/runs", infra="gcp", accelerator="a100-80gb", gpus=2),
    "managed-git": dict(
        repo_url="https://github.com/example/archbench.git",
        git_commit="01d4043",
        storage_mode="MOUNT_CACHED",
        storage="s3://b/p",
    ),
}
CLUSTER_OPTIONS: dict[str, dict[str, Any]] = {
    "cluster-default": dict(cluster="archbench-pool"),
    "cluster-spot-storage": dict(
        cluster="archbench-pool",
        nodes=4,
        gpus_per_node=4,
        accelerator="A100",
        use_spot=True,
        storage="s3://archbench-bucket/runs",
        wandb_mode="online",
    ),
}


def secrets_for(opts: SkyOptions, key: str) -> dict[str, str]:
    return launch_secrets(opts, {"WANDB_API_KEY": key})


@pytest.mark.parametrize("name", list(MANAGED_OPTIONS) + list(CLUSTER_OPTIONS))
def test_job_tasks_validate_offline(name: str, sky_home: Path, fake_wandb_key: str) -> None:
    opts = SkyOptions(**{**MANAGED_OPTIONS, **CLUSTER_OPTIONS}[name])
    for spec in (train_spec(), eval_spec()):
        cfg = build_task_config(spec, opts)
        task = to_sky_task(cfg, secrets_for(opts, fake_wandb_key))  # raises if SkyPilot rejects it
        (resources,) = task.resources
        assert resources.accelerators == {validate_accelerator(opts.accelerator): opts.gpus}
        assert task.name is not None and SKY_TASK_NAME_RE.fullmatch(task.name)
        if opts.mode == "managed":
            assert resources.use_spot is opts.use_spot
            assert cfg["resources"]["job_recovery"] == {"strategy": "EAGER_NEXT_REGION", "max_restarts_on_errors": 3}
            assert "pip install" in cfg["setup"]
        else:  # the cluster holds code, venv and mounts; the per-job task only claims GPUs
            assert "setup" not in cfg and "workdir" not in cfg and "file_mounts" not in cfg
            assert "job_recovery" not in cfg["resources"]
        if opts.wandb_mode == "online":
            assert task.secrets["WANDB_API_KEY"].get_secret_value() == fake_wandb_key
        else:
            assert "secrets" not in cfg


@pytest.mark.parametrize("name", list(CLUSTER_OPTIONS))
def test_cluster_task_validates_offline(name: str, sky_home: Path, tmp_path: Path) -> None:
    opts = SkyOptions(**CLUSTER_OPTIONS[name])
    task = to_sky_task(build_cluster_config(opts))
    written = yaml.safe_load(write_cluster_yaml(opts, tmp_path / "cluster.yaml").read_text())
    assert written == build_cluster_config(opts)
    to_sky_task(written)
    (resources,) = task.resources
    assert task.num_nodes == opts.nodes
    assert resources.accelerators == {validate_accelerator(opts.accelerator): opts.node_gpus}
    assert resources.use_spot is opts.use_spot
    assert "uv pip install --quiet -e ." in task.setup
    if opts.storage:
        assert set(task.storage_mounts) == {REMOTE_RESULTS}


@pytest.mark.parametrize("name", list(MANAGED_OPTIONS) + list(CLUSTER_OPTIONS))
def test_written_yaml_is_launchable_and_holds_no_secret(
    name: str, sky_home: Path, fake_wandb_key: str, tmp_path: Path
) -> None:
    opts = SkyOptions(**{**MANAGED_OPTIONS, **CLUSTER_OPTIONS}[name])
    path = write_task_yaml(train_spec(), opts, tmp_path / "task.yaml")
    text = path.read_text()
    assert fake_wandb_key not in text
    loaded = yaml.safe_load(text)
    if opts.wandb_mode == "online":
        assert loaded["secrets"] == {"WANDB_API_KEY": None}
    to_sky_task(loaded, secrets_for(opts, fake_wandb_key))


def test_secret_never_in_run_setup_envs_or_displayed_yaml(sky_home: Path, fake_wandb_key: str) -> None:
    opts = SkyOptions(**MANAGED_OPTIONS["managed-spot-storage-online"])
    spec = train_spec(env={"WANDB_API_KEY": fake_wandb_key, "ARCHBENCH_EXTRA": "1"})  # a careless caller
    cfg = build_task_config(spec, opts)
    assert fake_wandb_key not in repr(cfg)
    task = to_sky_task(cfg, launch_secrets(opts))  # reads the planted key from the environment
    shown = task.to_yaml_config(use_user_specified_yaml=True)  # what SkyPilot displays and stores
    for text in (task.run, task.setup, repr(task.envs), repr(shown)):
        assert fake_wandb_key not in str(text)
    assert "WANDB_API_KEY" not in task.envs
    assert task.secrets["WANDB_API_KEY"].get_secret_value() == fake_wandb_key


def test_online_mode_without_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    with pytest.raises(ValueError, match="WANDB_API_KEY is not set"):
        launch_secrets(SkyOptions(wandb_mode="online"))
    assert launch_secrets(SkyOptions(wandb_mode="offline")) == {}


def test_run_folder_on_bucket_and_envs() -> None:
    opts = SkyOptions(storage="s3://archbench-bucket/runs/")
    cfg = build_task_config(train_spec(), opts)
    remote = f"{REMOTE_RESULTS}/{RUN_ID}"
    assert cfg["file_mounts"] == {REMOTE_RESULTS: {"source": "s3://archbench-bucket/runs", "mode": "MOUNT"}}
    assert f"--out {remote}" in cfg["run"] and str(RUN_DIR) not in cfg["run"]
    assert re.search(r"^exec archbench train --level level_2 ", cfg["run"], re.M)
    assert remote_run_uri(train_spec(), opts) == f"s3://archbench-bucket/runs/{RUN_ID}"
    assert cfg["envs"] == {
        "ARCHBENCH_EXTRA": "1",
        "ARCHBENCH_RUN_ID": RUN_ID,
        "ARCHBENCH_JOB_ID": f"{RUN_ID}.train",
        "ARCHBENCH_ATTEMPT": "2",
        "ARCHBENCH_SEED": "3",
        "WANDB_MODE": "offline",
        "WANDB_PROJECT": "archbench",
        "WANDB_SILENT": "true",
        "ARCHBENCH_PRINT_RESULT": "1",
    }
    eval_cfg = build_task_config(eval_spec(), opts)
    assert f"exec archbench evaluate --run {remote} --episodes 20" in eval_cfg["run"]


def test_a_file_inside_the_run_folder_keeps_its_name_on_the_node() -> None:
    """A baseline's run folder is baselines/; its --out is a file in it, not the folder itself."""
    folder = Path("results/exp1/baselines")
    spec = train_spec(
        job_id="exp1.baseline.level_2",
        run_id="exp1.baseline.level_2",
        kind=JobKind.EVAL,
        run_dir=folder,
        argv=("evaluate", "--policy", "random", "--level", "level_2", "--out", str(folder / "level_2.json")),
    )
    assert (
        remote_argv(spec, SkyOptions(storage="s3://b/p"))[-1] == f"{REMOTE_RESULTS}/exp1.baseline.level_2/level_2.json"
    )
    spec = train_spec(argv=("evaluate", f"--out={folder / 'x.json'}"), run_dir=folder)
    assert remote_argv(spec, SkyOptions(storage="s3://b/p"))[-1] == f"--out={REMOTE_RESULTS}/{RUN_ID}/x.json"


def test_setup_installs_cuda_torch_in_project_range_then_project() -> None:
    setup = build_task_config(train_spec(), SkyOptions())["setup"]
    torch_line = next(line for line in setup.splitlines() if "torch>=" in line)
    assert torch_requirement() == "torch>=2.11,<2.14"
    assert "'torch>=2.11,<2.14' --index-url https://download.pytorch.org/whl/cu128" in torch_line
    assert "torch==" not in setup
    assert setup.index("torch>=") < setup.index("pip install --quiet -e .")
    assert "torch.cuda.is_available()" in setup.splitlines()[-1]
    git = build_task_config(train_spec(), SkyOptions(**MANAGED_OPTIONS["managed-git"]))
    assert "'archbench @ git+https://github.com/example/archbench.git@01d4043'" in git["setup"]
    assert "workdir" not in git


def test_unknown_accelerator_refused_with_one_line() -> None:
    with pytest.raises(ValueError) as err:
        validate_accelerator("Z999")
    message = str(err.value)
    assert "\n" not in message
    assert message == f"Unknown accelerator 'Z999'; valid names: {', '.join(KNOWN_ACCELERATORS)}"
    with pytest.raises(ValidationError, match=re.escape(message)):
        SkyOptions(accelerator="Z999")
    assert validate_accelerator("h100") == "H100"


def test_known_accelerators_cover_skypilot_common_gpus_and_fixture(sky_home: Path) -> None:
    import sky.catalog

    assert set(sky.catalog.get_common_gpus()) <= set(KNOWN_ACCELERATORS)
    fixture = (Path(__file__).parent / "fixtures" / "accelerators.csv").read_text()
    assert {line.split(",")[0] for line in fixture.splitlines()[1:]} == set(KNOWN_ACCELERATORS)


@pytest.mark.parametrize(
    "job_id",
    ["exp1.mlp.level_1.s0.train", "exp 1/mlp:level#1.s0.eval", "__x___y__", "exp1---mlp", "..."],
)
def test_sky_name_is_valid_and_stable(job_id: str, sky_home: Path) -> None:
    name = sky_name(job_id)
    assert SKY_TASK_NAME_RE.fullmatch(name)
    assert name == sky_name(job_id)
    to_sky_task({"name": name, "run": "true"})  # SkyPilot's own name check
    if SKY_TASK_NAME_RE.fullmatch(job_id):
        assert name == job_id
    assert sky_name("a/b") != sky_name("a:b")


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (dict(storage="bucket/path"), "not a bucket URI"),
        (dict(cluster="9-bad"), "cluster name"),
        (dict(nodes=2), "only apply in cluster mode"),
        (dict(cluster="c", gpus=4, gpus_per_node=2), "exceeds gpus_per_node"),
        (dict(repo_url="https://x/y.git"), "go together"),
        (dict(git_commit="zzz", repo_url="https://x/y.git"), "hex commit"),
        (dict(infra="aws region"), "infra syntax"),
        (dict(gpus=0), "greater than or equal to 1"),
        (dict(bogus=1), "Extra inputs"),
    ],
)
def test_options_validated_at_the_edge(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        SkyOptions(**bad)


def test_cloud_is_an_alias_of_infra() -> None:
    assert SkyOptions(cloud="gcp").infra == "gcp"
