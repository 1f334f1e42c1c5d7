"""W&B tracker: an offline session is readable back from its own log, and the API key is written nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmark.orchestration.backend import JobKind, JobSpec
from benchmark.orchestration.backends.sky_options import SkyOptions
from benchmark.orchestration.backends.sky_tasks import write_task_yaml
from benchmark.tracking import NullTracker, Tracker, read_offline_run, wandb_run_id

RUN_ID = "exp1.lstm.level_2.s3"
CONFIG = {"architecture": "lstm", "level": "level_2", "seed": 3, "ppo": {"lr": 0.0003, "clip": 0.2}}


@pytest.fixture()
def wandb_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every folder W&B may write to lies under tmp_path, so a grep of tmp_path sees all it wrote."""
    folders = {
        "HOME": "home",
        "WANDB_CONFIG_DIR": "wandb-config",
        "WANDB_CACHE_DIR": "wandb-cache",
        "WANDB_DATA_DIR": "wandb-data",
    }
    for var, sub in folders.items():
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    return tmp_path


def start_offline(run_dir: Path) -> Tracker | NullTracker:
    return Tracker.start(
        project="archbench",
        group="exp1",
        job_type="train",
        run_id=RUN_ID,
        name=RUN_ID,
        config=CONFIG,
        tags=["lstm", "level_2", "3"],
        mode="offline",
        dir=run_dir,
    )


def test_offline_session_is_read_back(wandb_sandbox: Path) -> None:
    run_dir = wandb_sandbox / "results" / RUN_ID
    with start_offline(run_dir) as tracker:
        assert isinstance(tracker, Tracker)
        for step in range(3):
            tracker.log({"loss": 1.0 / (step + 1), "reward/mean": float(step)}, step=step * 100)
        tracker.summary({"final_reward": 2.5})
    location = tracker.location()
    assert location is not None and Path(location).is_dir()
    assert Path(location).is_relative_to(run_dir)
    assert (Path(location) / f"run-{wandb_run_id(RUN_ID, 'train')}.wandb").is_file()

    config, history = read_offline_run(run_dir)
    assert config == CONFIG
    assert [row["_step"] for row in history] == [0, 100, 200]
    assert [row["loss"] for row in history] == pytest.approx([1.0, 0.5, 1 / 3])
    assert [row["reward/mean"] for row in history] == [0, 1, 2]


def test_disabled_mode_is_a_null_tracker(wandb_sandbox: Path) -> None:
    run_dir = wandb_sandbox / "results" / RUN_ID
    tracker = Tracker.start(
        project="archbench",
        group="exp1",
        job_type="eval",
        run_id=RUN_ID,
        name=RUN_ID,
        config=CONFIG,
        tags=[],
        mode="disabled",
        dir=run_dir,
    )
    assert type(tracker) is NullTracker
    tracker.log({"x": 1}, step=0)
    tracker.summary({"x": 1})
    tracker.finish()
    assert tracker.location() is None
    assert not run_dir.exists()


def test_read_offline_run_without_log_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no offline W&B log"):
        read_offline_run(tmp_path)


@pytest.mark.parametrize(
    ("run_id", "job_type"),
    [(RUN_ID, "train"), ("exp 1/mlp:level#1?.s0", "eval"), ("x" * 200, "train")],
)
def test_wandb_run_id_is_stable_and_safe(run_id: str, job_type: str) -> None:
    wid = wandb_run_id(run_id, job_type)
    assert wid == wandb_run_id(run_id, job_type)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", wid)
    assert wid != wandb_run_id(run_id, "other")
    if run_id == RUN_ID:
        assert wid == f"{RUN_ID}-{job_type}"
    assert wandb_run_id("a/b", "train") != wandb_run_id("a:b", "train")


def test_api_key_is_written_nowhere(wandb_sandbox: Path, fake_wandb_key: str) -> None:
    """Plant a recognisable key, run every code path that writes files, then grep all of them."""
    run_dir = wandb_sandbox / "results" / RUN_ID
    spec = JobSpec(
        job_id=f"{RUN_ID}.train",
        run_id=RUN_ID,
        kind=JobKind.TRAIN,
        argv=("train", "--seed", "3", "--out", str(run_dir)),
        run_dir=run_dir,
        log_path=run_dir / "train.log",
        env={"WANDB_API_KEY": fake_wandb_key},
    )
    for mode in ("managed", "cluster"):
        opts = SkyOptions(
            wandb_mode="online", storage="s3://bucket/runs", cluster="archbench-pool" if mode == "cluster" else None
        )
        write_task_yaml(spec, opts, wandb_sandbox / "dry-run" / f"{mode}.yaml")
    with start_offline(run_dir) as tracker:
        tracker.log({"loss": 1.0}, step=0)
        tracker.summary({"final_reward": 1.0})

    files = [p for p in wandb_sandbox.rglob("*") if p.is_file()]
    assert any(p.suffix == ".wandb" for p in files) and any(p.suffix == ".yaml" for p in files)
    leaks = [p for p in files if fake_wandb_key.encode() in p.read_bytes()]
    assert leaks == []
    assert all(b"wandb_v1_FAKEKEY" not in p.read_bytes() for p in files)  # not even a prefix of it
