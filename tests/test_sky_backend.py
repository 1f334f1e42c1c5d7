"""SkyBackend driven by a fake SkyClient replaying SkyPilot statuses, plus one real no-cloud launch (slow)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from benchmark.orchestration.backend import BackendState, JobKind, JobSpec, JobStatus
from benchmark.orchestration.backends import BackendUnavailable
from benchmark.orchestration.backends.sky import MANAGED_STATES, SkyBackend
from benchmark.orchestration.backends.sky_client import (
    NO_CLOUD_MESSAGE,
    NO_STORAGE_MESSAGE,
    ClusterMissing,
    ControllerNotUp,
    SkyClient,
    SkyJobRecord,
)
from benchmark.orchestration.backends.sky_options import SkyOptions
from benchmark.orchestration.backends.sky_tasks import sky_name

pytestmark = pytest.mark.usefixtures("sky_home")  # submit builds real sky.Tasks, validated offline

Step = str | tuple[str, str]  # a status, or (status, failure reason)


class FakeSkyClient(SkyClient):
    """Replays a status script per job: each queue call moves every queried job one step (then stays)."""

    def __init__(self, scripts: dict[int, Sequence[Step]] | None = None, names: dict[int, str] | None = None):
        self.scripts: dict[int, list[Step]] = {k: list(v) for k, v in (scripts or {}).items()}
        self.names: dict[int, str] = dict(names or {})
        self.position: dict[int, int] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.tasks: list[Any] = []
        self.down: list[str] = []  # exceptions to raise on the next queue calls: "not-up" / "missing"
        self.next_id = 1

    def _new_job(self, name: str, script: Sequence[Step] = ("PENDING",)) -> int:
        job_id = self.next_id
        self.next_id += 1
        self.names[job_id] = name
        self.scripts.setdefault(job_id, list(script))
        return job_id

    def _record(self, job_id: int, advance: bool) -> SkyJobRecord:
        script = self.scripts[job_id]
        pos = self.position.get(job_id, -1) + (1 if advance else 0)
        pos = min(max(pos, 0), len(script) - 1)
        self.position[job_id] = pos
        step = script[pos]
        status, detail = (step, "") if isinstance(step, str) else step
        return SkyJobRecord(job_id=job_id, status=status, name=self.names.get(job_id, ""), detail=detail)

    def _maybe_down(self) -> None:
        if self.down:
            kind = self.down.pop(0)
            raise ControllerNotUp("not up") if kind == "not-up" else ClusterMissing("missing")

    def launch(self, task: Any, name: str) -> int:
        self.calls.append(("launch", name))
        self.tasks.append(task)
        return self._new_job(name)

    def queue(self, job_ids: list[int] | None, refresh: bool = False, name: str | None = None) -> list[SkyJobRecord]:
        self.calls.append(("queue", tuple(job_ids) if job_ids is not None else None, refresh, name))
        self._maybe_down()
        if name is not None:  # the adoption lookup: no time passes
            found = [self._record(j, advance=False) for j in self.scripts if name in self.names.get(j, "")]
            live = (BackendState.QUEUED, BackendState.RUNNING)
            return [r for r in found if MANAGED_STATES.get(r.status) in live]
        return [self._record(j, advance=True) for j in job_ids or [] if j in self.scripts]

    def cancel(self, job_ids: list[int]) -> None:
        self.calls.append(("cancel", tuple(job_ids)))
        self._maybe_down()

    def download_logs(self, job_id: int, local_dir: Path) -> list[Path]:
        self.calls.append(("download_logs", job_id))
        self._maybe_down()
        log = local_dir / f"managed-{job_id}" / "run.log"
        log.parent.mkdir(parents=True)
        log.write_text(f"log of job {job_id}\n")
        return [log]

    def launch_cluster(self, task: Any, cluster: str, idle_minutes_to_autostop: int | None) -> None:
        self.calls.append(("launch_cluster", cluster, task.num_nodes, idle_minutes_to_autostop))

    def exec(self, task: Any, cluster: str) -> int:
        self.calls.append(("exec", cluster, task.name))
        self.tasks.append(task)
        return self._new_job(task.name)

    def queue_cluster(self, cluster: str) -> list[SkyJobRecord]:
        self.calls.append(("queue_cluster", cluster))
        self._maybe_down()
        return [self._record(j, advance=True) for j in self.scripts]

    def cancel_cluster(self, cluster: str, job_ids: list[int]) -> None:
        self.calls.append(("cancel_cluster", cluster, tuple(job_ids)))
        self._maybe_down()

    def count(self, kind: str) -> int:
        return sum(1 for call in self.calls if call[0] == kind)


def spec(i: int = 0, kind: JobKind = JobKind.TRAIN) -> JobSpec:
    run_id = f"exp1.mlp.level_1.s{i}"
    run_dir = Path("results/exp1") / run_id
    argv = (
        "train",
        "--level",
        "level_1",
        "--architecture",
        "mlp",
        "--seed",
        str(i),
        "--timesteps",
        "100",
        "--out",
        str(run_dir),
    )
    return JobSpec(
        job_id=f"{run_id}.{kind}", run_id=run_id, kind=kind, argv=argv, run_dir=run_dir, log_path=run_dir / "train.log"
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def poll_states(backend: SkyBackend, handles: list[str], times: int) -> list[dict[str, JobStatus]]:
    return [run(backend.poll(handles)) for _ in range(times)]


def test_preempted_job_recovers_and_succeeds() -> None:
    client = FakeSkyClient()
    backend = SkyBackend(SkyOptions(use_spot=True, storage="s3://bucket/runs"), client)
    handle = run(backend.submit(spec()))
    assert handle == "1" and client.count("launch") == 1
    client.scripts[1] = ["PENDING", "RUNNING", "RECOVERING", "RUNNING", "SUCCEEDED"]
    queue_calls_before = client.count("queue")
    seen = [p[handle] for p in poll_states(backend, [handle], 6)]
    assert [s.state for s in seen] == [
        BackendState.QUEUED,
        BackendState.RUNNING,
        BackendState.QUEUED,
        BackendState.RUNNING,
        BackendState.SUCCEEDED,
        BackendState.SUCCEEDED,
    ]
    assert [s.recovering for s in seen] == [False, False, True, False, False, False]
    assert seen[2].detail == "RECOVERING"
    assert client.count("queue") - queue_calls_before == 6
    assert client.count("launch") == 1  # recovery is SkyPilot's business: nothing relaunched


def test_launched_task_is_the_built_one() -> None:
    client = FakeSkyClient()
    run(SkyBackend(SkyOptions(storage="s3://bucket/runs"), client).submit(spec(4)))
    (task,) = client.tasks
    assert client.calls[-1] == ("launch", "exp1.mlp.level_1.s4.train")
    assert task.name == "exp1.mlp.level_1.s4.train"
    assert "--out /archbench-results/exp1.mlp.level_1.s4" in task.run
    assert task.envs["ARCHBENCH_SEED"] == "4"


def test_no_resource_failure_names_the_status() -> None:
    client = FakeSkyClient({7: [("FAILED_NO_RESOURCE", "No launchable resource in any region")]})
    status = run(SkyBackend(SkyOptions(), client).poll(["7"]))["7"]
    assert status.state is BackendState.FAILED
    assert status.detail == "FAILED_NO_RESOURCE: No launchable resource in any region"


@pytest.mark.parametrize("sky_status", sorted(MANAGED_STATES))
def test_every_managed_status_is_mapped(sky_status: str) -> None:
    status = run(SkyBackend(SkyOptions(), FakeSkyClient({3: [sky_status]})).poll(["3"]))["3"]
    expected = {
        "PENDING": BackendState.QUEUED,
        "SUBMITTED": BackendState.QUEUED,
        "STARTING": BackendState.QUEUED,
        "RECOVERING": BackendState.QUEUED,
        "RUNNING": BackendState.RUNNING,
        "WINDING_DOWN": BackendState.RUNNING,
        "SUCCEEDED": BackendState.SUCCEEDED,
        "CANCELLING": BackendState.CANCELLED,
        "CANCELLED": BackendState.CANCELLED,
    }.get(sky_status, BackendState.FAILED)
    assert status.state is expected
    assert sky_status in status.detail
    assert status.recovering is (sky_status == "RECOVERING")


def test_managed_statuses_match_skypilot() -> None:
    from sky.jobs import ManagedJobStatus

    assert {s.value for s in ManagedJobStatus} == set(MANAGED_STATES)


def test_missing_job_is_lost_and_bad_handle_too() -> None:
    client = FakeSkyClient({1: ["RUNNING"]})
    out = run(SkyBackend(SkyOptions(), client).poll(["1", "99", "garbage", ":3"]))
    assert out["1"].state is BackendState.RUNNING
    assert out["99"].state is BackendState.LOST and "managed job 99" in out["99"].detail
    assert out["garbage"].state is BackendState.LOST and out[":3"].state is BackendState.LOST
    assert client.count("queue") == 1


def test_one_queue_call_per_poll_whatever_the_job_count() -> None:
    client = FakeSkyClient({i: ["PENDING", "RUNNING"] for i in range(1, 41)})
    backend = SkyBackend(SkyOptions(), client)
    handles = [str(i) for i in range(1, 41)]
    for _ in range(3):
        out = run(backend.poll(handles))
        assert set(out) == set(handles)
    assert client.count("queue") == 3
    assert client.calls[0] == ("queue", tuple(range(1, 41)), False, None)


def test_reattach_polls_the_persisted_handle_and_never_submits() -> None:
    first = FakeSkyClient()
    handle = run(SkyBackend(SkyOptions(), first).submit(spec()))
    # The controller restarts: a new backend (new client) holds only the ledger's handle.
    job_id = int(handle)
    second = FakeSkyClient({job_id: ["RUNNING", "SUCCEEDED"]}, names={job_id: sky_name(spec().job_id)})
    backend = SkyBackend(SkyOptions(), second)
    states = [p[handle].state for p in poll_states(backend, [handle], 2)]
    assert states == [BackendState.RUNNING, BackendState.SUCCEEDED]
    assert second.count("launch") == 0 and second.count("exec") == 0


def test_submit_adopts_a_live_job_of_the_same_name() -> None:
    """A launch the ledger never recorded (controller killed mid-launch) is adopted, not launched twice."""
    name = sky_name(spec().job_id)
    client = FakeSkyClient({12: ["RUNNING"], 11: ["FAILED"]}, names={12: name, 11: name})
    assert run(SkyBackend(SkyOptions(), client).submit(spec())) == "12"
    assert client.count("launch") == 0
    finished = FakeSkyClient({11: ["FAILED"]}, names={11: name})
    assert run(SkyBackend(SkyOptions(), finished).submit(spec())) == "1"  # a failed attempt is not adopted
    assert finished.count("launch") == 1


def test_bad_options_refused_before_any_sky_call(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeSkyClient()
    bad = SkyOptions.model_construct(**{**SkyOptions().model_dump(), "accelerator": "Z999"})
    with pytest.raises(ValueError, match="Unknown accelerator 'Z999'; valid names: A10, "):
        run(SkyBackend(bad, client).submit(spec()))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    with pytest.raises(ValueError, match="WANDB_API_KEY is not set"):
        run(SkyBackend(SkyOptions(wandb_mode="online"), client).submit(spec()))
    assert client.calls == []


def test_online_key_comes_from_the_environment_at_launch(fake_wandb_key: str) -> None:
    client = FakeSkyClient()
    run(SkyBackend(SkyOptions(wandb_mode="online"), client).submit(spec()))
    (task,) = client.tasks
    assert task.secrets["WANDB_API_KEY"].get_secret_value() == fake_wandb_key
    assert fake_wandb_key not in task.run + task.setup + repr(task.envs)


def test_controller_down_is_restarted_once_then_lost() -> None:
    client = FakeSkyClient({1: ["SUCCEEDED"]})
    backend = SkyBackend(SkyOptions(), client)
    client.down = ["not-up"]
    assert run(backend.poll(["1"]))["1"].state is BackendState.SUCCEEDED
    assert [c[2] for c in client.calls if c[0] == "queue"] == [False, True]  # refresh only after "not up"
    client.down = ["not-up", "missing"]
    status = run(backend.poll(["1"]))["1"]
    assert status.state is BackendState.LOST and "jobs controller unavailable" in status.detail


def test_cancel_is_one_call_and_quiet_when_nothing_runs() -> None:
    client = FakeSkyClient({1: ["RUNNING"], 2: ["SUCCEEDED"]})
    backend = SkyBackend(SkyOptions(), client)
    run(backend.cancel(["1", "2", "junk"]))
    assert client.calls == [("cancel", (1, 2))]
    client.down = ["not-up"]
    run(backend.cancel(["1"]))  # no controller: nothing to cancel, no error


def test_fetch_logs_copies_the_run_log(tmp_path: Path) -> None:
    client = FakeSkyClient({5: ["SUCCEEDED"]})
    backend = SkyBackend(SkyOptions(), client)
    dest = tmp_path / "logs" / "job.log"
    assert run(backend.fetch_logs("5", dest)) == dest
    header, body = dest.read_text().splitlines()
    assert header.startswith("==== ") and "SkyPilot job 5" in header and body == "log of job 5"
    assert [p.name for p in dest.parent.iterdir()] == ["job.log"]  # the download folder is cleaned up
    run(backend.fetch_logs("5", dest))  # a second attempt appends
    assert dest.read_text().count("log of job 5") == 2
    client.down = ["not-up"]
    assert run(backend.fetch_logs("5", tmp_path / "other.log")) is None


def test_cluster_mode_launches_cluster_once_then_execs() -> None:
    opts = SkyOptions(
        cluster="archbench-pool", nodes=2, gpus_per_node=4, accelerator="A100", storage="s3://bucket/runs"
    )
    client = FakeSkyClient()
    backend = SkyBackend(opts, client)

    async def submit_all() -> list[str]:
        return list(await asyncio.gather(*(backend.submit(spec(i)) for i in range(3))))

    handles = run(submit_all())
    assert sorted(handles) == ["archbench-pool:1", "archbench-pool:2", "archbench-pool:3"]
    launches = [c for c in client.calls if c[0] == "launch_cluster"]
    assert launches == [("launch_cluster", "archbench-pool", 2, 30)]
    assert client.count("exec") == 3 and client.count("launch") == 0
    assert all(next(iter(task.resources)).accelerators == {"A100": 1} for task in client.tasks)
    client.scripts = {1: ["PENDING", "RUNNING"], 2: ["SETTING_UP", "FAILED_SETUP"], 3: ["RUNNING", "SUCCEEDED"]}
    client.position = {}
    before = client.count("queue_cluster")
    first = run(backend.poll([*handles, "archbench-pool:9"]))
    second = run(backend.poll([*handles, "archbench-pool:9"]))
    assert first["archbench-pool:2"].state is BackendState.QUEUED
    assert client.count("queue_cluster") - before == 2
    assert second["archbench-pool:1"].state is BackendState.RUNNING
    assert second["archbench-pool:2"].state is BackendState.FAILED
    assert second["archbench-pool:2"].detail == "FAILED_SETUP"
    assert second["archbench-pool:3"].state is BackendState.SUCCEEDED
    assert second["archbench-pool:9"].state is BackendState.LOST
    client.down = ["missing"]
    gone = run(backend.poll(handles))
    assert {s.state for s in gone.values()} == {BackendState.LOST}
    run(backend.cancel(handles))
    kind, cluster, ids = client.calls[-1]
    assert (kind, cluster, sorted(ids)) == ("cancel_cluster", "archbench-pool", [1, 2, 3])


def test_sky_exceptions_are_translated() -> None:
    from sky import exceptions

    with pytest.raises(BackendUnavailable) as err, SkyClient.translated():
        raise exceptions.NoCloudAccessError("Cloud access is not set up. Run: \x1b[1msky check\x1b[0m")
    assert str(err.value) == NO_CLOUD_MESSAGE and "\n" not in NO_CLOUD_MESSAGE
    with pytest.raises(BackendUnavailable) as err, SkyClient.translated():  # a bucket mount and no cloud
        raise exceptions.NotSupportedError(
            "Cloud-based file_mounts are specified, but no cloud storage is available. Please specify local "
            "file_mounts only."
        )
    assert str(err.value) == NO_STORAGE_MESSAGE and "\n" not in NO_STORAGE_MESSAGE
    with pytest.raises(exceptions.NotSupportedError, match="something else"), SkyClient.translated():
        raise exceptions.NotSupportedError("something else")  # other errors stay a failure of that job
    with pytest.raises(ControllerNotUp, match="No in-progress managed jobs"), SkyClient.translated():
        raise exceptions.ClusterNotUpError("No in-progress managed jobs.")
    with pytest.raises(ClusterMissing, match="does not exist"), SkyClient.translated():
        raise exceptions.ClusterDoesNotExist("\x1b[33mCluster 'x' does not exist.\x1b[0m")


NO_CLOUD_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from benchmark.orchestration.backend import JobKind, JobSpec
    from benchmark.orchestration.backends import BackendUnavailable
    from benchmark.orchestration.backends.sky import SkyBackend
    from benchmark.orchestration.backends.sky_options import SkyOptions

    spec = JobSpec(job_id="nocloud.mlp.l1.s0.train", run_id="nocloud.mlp.l1.s0", kind=JobKind.TRAIN,
                   argv=("train", "--out", "results/x"), run_dir=Path("results/x"), log_path=Path("x.log"))
    start = time.monotonic()
    try:
        asyncio.run(SkyBackend(SkyOptions()).submit(spec))
    except BackendUnavailable as err:
        print(f"UNAVAILABLE|{err}|{time.monotonic() - start:.1f}")
    else:
        sys.exit("a managed job was launched")
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_real_launch_without_cloud_is_backend_unavailable(sky_home: Path, tmp_path: Path) -> None:
    """Starts a private SkyPilot API server (10 s, 0.9 GB) on a free port under a temp HOME, then stops it."""
    repo = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "HOME": str(sky_home),
        "SKYPILOT_DISABLE_USAGE_COLLECTION": "1",
        "SKYPILOT_API_SERVER_LOCAL_PORT": str(_free_port()),  # never touch another engineer's server
        "PYTHONPATH": str(repo),
    }
    env.pop("WANDB_API_KEY", None)
    try:
        done = subprocess.run(
            [sys.executable, "-c", NO_CLOUD_SCRIPT], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240
        )
    finally:
        subprocess.run(
            [sys.executable, "-m", "sky.client.cli.command", "api", "stop"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
        )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("UNAVAILABLE|")), None)
    assert line is not None, done.stdout[-2000:] + done.stderr[-2000:]
    _, message, seconds = line.split("|")
    assert message == NO_CLOUD_MESSAGE
    print(f"no-cloud launch refused after {seconds} s")
