"""`--eval-where local`: trainings on the (fake) cloud, evaluations here from the checkpoint in the bucket.

The bucket is a local folder; the `aws` on PATH is a stand-in that copies out of it, so the real copy path
(`benchmark.orchestration.bucket.fetch_file`, atomic, its errors) runs. The evaluation is the real CLI on a
real checkpoint. Not tested here: a real bucket and the real aws/gcloud tools (no cloud credentials in CI).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from sky_helpers import FakeCloud, ReplaySkyClient
from test_sky_controller import STORAGE, call, cloud_argv, ledger_json

from benchmark.orchestration.bucket import FetchError, copy_command, fetch_file

FAKE_AWS = """#!{python}
import os, shutil, sys
src, dest = sys.argv[-2], sys.argv[-1]
path = os.path.join(os.environ["FAKE_BUCKET_ROOT"], src.removeprefix("s3://"))
if sys.argv[1:3] != ["s3", "cp"] or not os.path.exists(path):
    print(f"fatal error: An error occurred (404) when calling the HeadObject operation: Key {{src!r}} does not exist",
          file=sys.stderr)
    sys.exit(1)
shutil.copyfile(path, dest)
"""


@pytest.fixture()
def bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder standing in for the bucket, and an `aws` on PATH that copies out of it."""
    root = tmp_path / "bucket"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(FAKE_AWS.format(python=sys.executable))
    aws.chmod(aws.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_BUCKET_ROOT", str(root))
    return root


def real_checkpoint(tmp_path: Path) -> bytes:
    from benchmark.training.checkpoint import CHECKPOINT
    from benchmark.training.config import TrainConfig
    from benchmark.training.trainer import train

    out = tmp_path / "trained"
    train(TrainConfig(architecture="fast", timesteps=1, rows=12, bptt=4, out=out, threads=1))
    return (out / CHECKPOINT).read_bytes()


def test_training_on_the_cloud_evaluation_here_from_the_bucket(tmp_path, capsys, use_cloud, bucket):
    run_id = "ewl.fast.level_1_basic.s0"
    in_bucket = bucket / STORAGE.removeprefix("s3://") / run_id / "checkpoint.pt"
    in_bucket.parent.mkdir(parents=True)
    in_bucket.write_bytes(real_checkpoint(tmp_path))  # what the training node left in the bucket
    cloud = FakeCloud()
    use_cloud(ReplaySkyClient(cloud))
    code, out, err = call(capsys, *cloud_argv(tmp_path, "ewl", "--eval-where", "local", "--episodes", "1"))
    assert code == 0, out + err
    assert cloud.launches == [f"{run_id}.train"]  # only the training ran on the cloud
    run_dir = tmp_path / "ewl" / "runs" / run_id
    assert (run_dir / "checkpoint.pt").read_bytes() == in_bucket.read_bytes()
    assert not list(run_dir.glob(".checkpoint.pt.*"))  # no temporary copy left
    ledger = ledger_json(tmp_path, "ewl")
    evaluation = ledger["runs"][0]["evaluation"]
    assert evaluation["status"] == "success" and evaluation["handle"].startswith("local/")
    assert ledger["baselines"]["level_1_basic"]["handle"].startswith("local/")
    assert ledger["runs"][0]["training"]["handle"] == "1"  # the cloud's job id
    assert ledger["config"]["backend"]["eval_where"] == "local"
    result = json.loads((run_dir / "eval.json").read_text())  # a real evaluation of the real checkpoint
    assert result["episodes_per_simulation"] == 1
    assert result["checkpoint_agent_steps"] == 12  # the bucket's checkpoint (the fake cloud's summary says 1000)


def test_a_checkpoint_missing_from_the_bucket_fails_the_evaluation_with_the_tools_message(
    tmp_path, capsys, use_cloud, bucket
):
    cloud = FakeCloud()
    use_cloud(ReplaySkyClient(cloud))
    code, out, err = call(
        capsys, *cloud_argv(tmp_path, "ewm", "--eval-where", "local", "--retries", "1", "--episodes", "1")
    )
    assert code != 0
    evaluation = ledger_json(tmp_path, "ewm")["runs"][0]["evaluation"]
    assert evaluation["status"] == "failed" and evaluation["attempts"] == 2
    detail = evaluation["history"][-1]["detail"]
    assert "submit failed: FetchError" in detail and "(404)" in detail and "checkpoint.pt" in detail


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--local", "--eval-where", "local"], "--eval-where only applies on the cloud"),
        (["--eval-where", "somewhere"], "--eval-where: Input should be 'cloud' or 'local' (got 'somewhere')"),
    ],
)
def test_eval_where_usage_errors(tmp_path, capsys, extra, message):
    argv = ["--experiment-id", "x", "--timesteps", "1000", "--output-dir", str(tmp_path), *extra]
    code, out, err = call(capsys, *argv)
    assert code == 2 and message in err


def test_eval_where_local_needs_a_bucket_it_can_copy_from(tmp_path, capsys, use_cloud):
    use_cloud(ReplaySkyClient(FakeCloud()))
    base = ["--experiment-id", "x", "--timesteps", "1000", "--output-dir", str(tmp_path), "--eval-where", "local"]
    code, _, err = call(capsys, *base, "--cluster", "c1")
    assert code == 2 and "--eval-where local needs --storage" in err
    code, _, err = call(capsys, *base, "--storage", "cos://region/bucket")
    assert code == 2 and "copies checkpoints from s3://, gs://, r2:// buckets, not 'cos://region/bucket'" in err


def test_copy_commands_per_scheme(tmp_path):
    which = {"aws": "/bin/aws", "gsutil": "/bin/gsutil"}.get
    dest = tmp_path / "c.pt"
    assert copy_command("s3://b/r/c.pt", dest, which) == [
        "/bin/aws",
        "s3",
        "cp",
        "--only-show-errors",
        "s3://b/r/c.pt",
        str(dest),
    ]
    assert copy_command("gs://b/r/c.pt", dest, which) == ["/bin/gsutil", "-q", "cp", "gs://b/r/c.pt", str(dest)]
    with_gcloud = {"gcloud": "/bin/gcloud"}.get
    assert copy_command("gs://b/r/c.pt", dest, with_gcloud) == [
        "/bin/gcloud",
        "storage",
        "cp",
        "gs://b/r/c.pt",
        str(dest),
    ]
    r2 = copy_command("r2://b/r/c.pt", dest, which, r2_account="acc")
    assert r2[:5] == ["/bin/aws", "s3", "cp", "--only-show-errors", "s3://b/r/c.pt"]
    assert r2[-4:] == ["--endpoint-url", "https://acc.r2.cloudflarestorage.com", "--profile", "r2"]
    with pytest.raises(FetchError, match="`aws` is not on PATH"):
        copy_command("s3://b/c.pt", dest, lambda name: None)
    with pytest.raises(FetchError, match="supports s3://, gs://, r2://"):
        copy_command("cos://b/c.pt", dest, which)


def test_fetch_leaves_no_partial_file_when_the_copy_fails(tmp_path):
    import subprocess

    def failing(command, **kwargs):
        Path(command[-1]).write_bytes(b"half")  # the tool wrote part of the file, then failed
        return subprocess.CompletedProcess(command, 1, "", "download failed: connection reset\n")

    dest = tmp_path / "run" / "checkpoint.pt"
    with pytest.raises(FetchError, match="exit 1\\): download failed: connection reset"):
        fetch_file("s3://b/r/checkpoint.pt", dest, run=failing)
    assert not dest.exists() and not list(dest.parent.iterdir())
