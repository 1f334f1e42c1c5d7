"""The real controller and scheduler on the real SkyBackend, over a fake cloud replaying SkyPilot statuses.

Through the command line (`benchmark/adaptive.py` without --local): preemption and recovery, FAILED_NO_RESOURCE
and its retry, a controller killed while jobs run and a second one re-attaching, no cloud enabled, --dry-run's
task YAMLs. No API server is started: SkyPilot is only imported to build and validate tasks offline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from orchestration_helpers import FAKE_JOB, make_plan
from sky_helpers import ControllerKilled, FakeCloud, ReplaySkyClient

from benchmark.adaptive import main
from benchmark.orchestration.backends.sky_client import NO_CLOUD_MESSAGE, NO_STORAGE_MESSAGE
from benchmark.orchestration.ledger import read_ledger
from benchmark.orchestration.outputs import RESULT_MARKER, OutputError, materialize_result, result_from_log, result_line

ROOT = Path(__file__).resolve().parents[1]
STORAGE = "s3://archbench-test-bucket/runs"
GRID = ["--timesteps", "1000", "--architectures", "fast", "--levels", "level_1_basic"]


def call(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def cloud_argv(tmp_path: Path, experiment: str, *extra: str, backoff: str = "0", seeds: int = 1) -> list[str]:
    return [
        *("--experiment-id", experiment, *GRID, "--seeds-per-level", str(seeds), "--storage", STORAGE),
        *("--retry-backoff", backoff, "--output-dir", str(tmp_path), *extra),
    ]


def ledger_json(tmp_path: Path, experiment: str) -> dict:
    return json.loads((tmp_path / experiment / "benchmark_results.json").read_text())


def test_preempted_job_recovers_as_one_successful_attempt(tmp_path, capsys, use_cloud):
    recovering = ["PENDING", "STARTING", "RUNNING", "RECOVERING", "RECOVERING", "STARTING", "RUNNING", "SUCCEEDED"]
    cloud = FakeCloud(scripts={".train": [recovering]})
    client = ReplaySkyClient(cloud)
    use_cloud(client)
    # a stall timeout far shorter than the recovery: RECOVERING must not look like a stalled job
    code, out, err = call(capsys, *cloud_argv(tmp_path, "pre", "--stall-timeout", "0.001"))
    assert code == 0, out + err
    assert "recovering  pre.fast.level_1_basic.s0.train: RECOVERING" in out
    assert "recovered   pre.fast.level_1_basic.s0.train" in out
    assert "1/1 runs evaluated; jobs: 3 succeeded, 0 failed" in out
    assert sorted(cloud.launches) == sorted(
        ["pre.baseline.level_1_basic", "pre.fast.level_1_basic.s0.train", "pre.fast.level_1_basic.s0.eval"]
    )  # recovery is SkyPilot's business: nothing launched again
    ledger = ledger_json(tmp_path, "pre")
    train = ledger["runs"][0]["training"]
    assert train["status"] == "success" and train["attempts"] == 1
    assert [a["outcome"] for a in train["history"]] == ["success"]
    assert train["backend"] == "sky" and train["handle"] == train["history"][0]["handle"]
    assert cloud.jobs[int(train["handle"])].name == "pre.fast.level_1_basic.s0.train"
    assert train["metrics"]["checkpoint"] == "/archbench-results/pre.fast.level_1_basic.s0/checkpoint.pt"
    assert ledger["config"]["backend"]["mode"] == "managed" and ledger["config"]["backend"]["storage"] == STORAGE
    assert ledger["config"]["wandb_mode"] == "offline"  # no key in this shell
    # the results came through the logs into the local run folder
    run_dir = tmp_path / "pre" / "runs" / "pre.fast.level_1_basic.s0"
    assert json.loads((run_dir / "train_summary.json").read_text())["agent_steps"] == 1000
    assert ledger["runs"][0]["evaluation"]["metrics"]["file"] == str(run_dir / "eval.json")
    assert ledger["baselines"]["level_1_basic"]["metrics"]["policy"] == "random"
    log = (tmp_path / "pre" / "logs" / "pre.fast.level_1_basic.s0.train.log").read_text()
    assert log.startswith("==== ") and RESULT_MARKER in log
    assert len(client.downloads) == 3  # one log download per job, after it ended


def test_no_resource_failure_is_retried_with_backoff_then_succeeds(tmp_path, capsys, use_cloud):
    no_resource = ["PENDING", "STARTING", ("FAILED_NO_RESOURCE", "No launchable resource for L4:1 in any region")]
    cloud = FakeCloud(scripts={".train": [no_resource, ["PENDING", "RUNNING", "SUCCEEDED"]]})
    use_cloud(ReplaySkyClient(cloud))
    code, out, err = call(capsys, *cloud_argv(tmp_path, "nores", backoff="0.2"))
    assert code == 0, out + err
    assert "retry 1/2 in 0 s" in out and "FAILED_NO_RESOURCE: No launchable resource" in out
    assert cloud.launches.count("nores.fast.level_1_basic.s0.train") == 2
    train = ledger_json(tmp_path, "nores")["runs"][0]["training"]
    assert train["status"] == "success" and train["attempts"] == 2
    first, second = train["history"]
    assert first["outcome"] == "failed" and first["detail"].startswith("FAILED_NO_RESOURCE: No launchable resource")
    assert second["outcome"] == "success" and first["handle"] != second["handle"]
    assert first["ended_at"] < second["started_at"]


@pytest.mark.parametrize("recorded", [True, False], ids=["handles-in-ledger", "killed-before-ledger-write"])
def test_killed_controller_is_replaced_and_relaunches_nothing(tmp_path, capsys, use_cloud, recorded):
    """Kill the controller while two trainings run in the cloud; a new one polls them and launches the rest.

    recorded: the ledger on disk holds their SkyPilot job ids (they are re-attached by handle); otherwise the
    controller died before writing them (the next one's launch finds each live job by name and adopts it)."""
    long_run = ["PENDING", "STARTING", *["RUNNING"] * 60, "SUCCEEDED"]
    cloud = FakeCloud(scripts={".train": [long_run], ".baseline.level_1_basic": [long_run]})
    argv = cloud_argv(tmp_path, "kill", "--max-parallel", "3", seeds=2)
    ledger_path = tmp_path / "kill" / "benchmark_results.json"
    snapshots: list[bytes] = []

    def kill_when(c: FakeCloud) -> bool:
        if ledger_path.exists():
            snapshots.append(ledger_path.read_bytes())  # written atomically: always a whole file
        trains = [j for j in c.running() if j.name.endswith(".train")]
        baseline_live = any(j.name.endswith(".baseline.level_1_basic") for j in c.running())
        if len(trains) < 2 or not baseline_live or not snapshots:  # all three launched, whatever the order
            return False
        # recorded: wait until the ledger on disk holds their handles (it is rewritten a few ms after a launch)
        return not recorded or all(f'"handle":"{j.job_id}"'.encode() in snapshots[-1] for j in trains)

    use_cloud(ReplaySkyClient(cloud, kill_when=kill_when))
    with pytest.raises(ControllerKilled):
        main(argv)
    capsys.readouterr()
    # what a SIGKILL leaves: the file as it was at the kill, or (not recorded) before any launch was written
    ledger_path.write_bytes(snapshots[-1] if recorded else snapshots[0])
    before = json.loads(ledger_path.read_text())
    assert before["sessions"][-1]["outcome"] == "running"
    running = {r["training"]["job_id"]: r["training"]["handle"] for r in before["runs"]}
    assert all(h is not None for h in running.values()) if recorded else not any(running.values())
    live = {j.name for j in cloud.running()}
    assert live == {*running, "kill.baseline.level_1_basic"}  # still running in the cloud
    launched_before = list(cloud.launches)
    assert len(launched_before) == 3

    second = ReplaySkyClient(cloud)
    use_cloud(second)
    code, out, err = call(capsys, *argv)
    assert code == 0, out + err
    assert "2/2 runs evaluated; jobs: 5 succeeded, 0 failed" in out
    assert len(cloud.launches) == len(set(cloud.launches)) == 5  # every job launched exactly once, over both
    assert sorted(cloud.launches[3:]) == ["kill.fast.level_1_basic.s0.eval", "kill.fast.level_1_basic.s1.eval"]
    ledger = ledger_json(tmp_path, "kill")
    assert [s["outcome"] for s in ledger["sessions"]] == ["running", "complete"]
    for run in ledger["runs"]:
        train = run["training"]
        assert train["status"] == "success" and run["evaluation"]["status"] == "success"
        if recorded:  # polled by its persisted handle: same attempt, same SkyPilot job
            assert f"reattached  {train['job_id']}: handle {train['handle']}" in out
            assert train["attempts"] == 1 and train["handle"] == running[train["job_id"]]
        else:  # the lost attempt is closed; the next "launch" adopted the live job of the same name
            assert "reattached" not in out
            assert [a["outcome"] for a in train["history"]][-1] == "success"
            assert cloud.jobs[int(train["handle"])].name == train["job_id"]


def test_ctrl_c_cancels_what_it_launched_and_the_same_command_resumes(tmp_path, capsys, use_cloud):
    import signal

    long_run = ["PENDING", *["RUNNING"] * 50, "SUCCEEDED"]
    cloud = FakeCloud(scripts={".train": [long_run]})

    sent: list[int] = []

    def ctrl_c_when(c: FakeCloud) -> bool:
        if len([j for j in c.running() if j.name.endswith(".train")]) == 2 and not sent:
            sent.append(signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)  # the controller's handler: stop launching, cancel, mark pending
        return False

    use_cloud(ReplaySkyClient(cloud, kill_when=ctrl_c_when))
    argv = cloud_argv(tmp_path, "intr", "--max-parallel", "2", seeds=2)
    code, out, err = call(capsys, *argv)
    assert code == 130, out + err
    assert "interrupted" in out and "resume with" in out
    cancelled = [j for j in cloud.jobs.values() if j.cancelled]
    assert {j.name for j in cancelled} == {"intr.fast.level_1_basic.s0.train", "intr.fast.level_1_basic.s1.train"}
    ledger = ledger_json(tmp_path, "intr")
    assert ledger["sessions"][-1]["outcome"] == "interrupted"
    assert {r["training"]["status"] for r in ledger["runs"]} == {"pending"}

    use_cloud(ReplaySkyClient(cloud))
    code, out, err = call(capsys, *argv)
    assert code == 0, out + err
    assert cloud.launches.count("intr.fast.level_1_basic.s0.train") == 2  # cancelled, so launched again


def test_no_cloud_stops_the_run_with_one_line_and_a_valid_ledger(tmp_path, capsys, use_cloud):
    from sky import exceptions

    client = ReplaySkyClient(
        FakeCloud(), launch_error=lambda: exceptions.NoCloudAccessError("Cloud access is not set up. Run: sky check")
    )
    use_cloud(client)
    argv = cloud_argv(tmp_path, "nocloud", seeds=3)
    code, out, err = call(capsys, *argv)
    assert code == 2
    assert err == f"error: {NO_CLOUD_MESSAGE}\n"
    assert "Traceback" not in out + err and "retry" not in out
    assert len(client.launch_attempts) == len(set(client.launch_attempts)) >= 1  # stopped at once, never retried
    ledger = read_ledger(tmp_path / "nocloud" / "benchmark_results.json", "nocloud")  # valid
    assert ledger is not None and ledger.sessions[-1].outcome == "backend unavailable"
    records = [r.training for r in ledger.runs] + [r.evaluation for r in ledger.runs] + list(ledger.baselines.values())
    assert {r.status for r in records} == {"pending"}
    assert all(r.attempts == 0 and r.history == [] and r.handle is None for r in records)
    # the same command, once a cloud is enabled, runs everything
    use_cloud(ReplaySkyClient(cloud := FakeCloud()))
    code, out, err = call(capsys, *argv)
    assert code == 0, out + err
    assert len(cloud.launches) == 7


def test_backend_lost_mid_run_leaves_running_jobs_to_reattach(tmp_path, capsys, use_cloud):
    """The API server goes away after two launches: the run stops; what runs in the cloud is kept and re-attached."""
    from sky import exceptions

    long_run = ["PENDING", *["RUNNING"] * 8, "SUCCEEDED"]
    cloud = FakeCloud(scripts={".train": [long_run], ".baseline.level_1_basic": [long_run]})

    class FlakyClient(ReplaySkyClient):
        def launch(self, task, name):
            if len(cloud.launches) >= 2:
                self.launch_error = lambda: exceptions.ApiServerConnectionError("http://127.0.0.1:46580")
            return super().launch(task, name)

    use_cloud(FlakyClient(cloud))
    argv = cloud_argv(tmp_path, "lost", "--max-parallel", "3", seeds=2)
    code, out, err = call(capsys, *argv)
    assert code == 2 and err.startswith("error: SkyPilot API server unreachable") and err.count("\n") == 1
    ledger = ledger_json(tmp_path, "lost")
    records = [run["training"] for run in ledger["runs"]] + list(ledger["baselines"].values())
    handles = {r["job_id"]: r["handle"] for r in records if r["status"] == "running"}
    assert len(handles) == 2 and out.count("detached ") == 2  # the baseline and the first training
    assert {r["status"] for r in records} == {"running", "pending"}
    assert all(cloud.jobs[int(h)].status in ("RUNNING", "PENDING") for h in handles.values())  # not cancelled

    second = ReplaySkyClient(cloud)
    use_cloud(second)
    code, out, err = call(capsys, *argv)
    assert code == 0, out + err
    assert len(cloud.launches) == len(set(cloud.launches)) == 5
    assert all(f"reattached  {job_id}" in out for job_id in handles)


def sky_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.yaml"))


def test_cloud_dry_run_writes_valid_task_yamls_without_the_key(tmp_path, capsys, sky_home, fake_wandb_key):
    import sky

    code, out, err = call(capsys, *cloud_argv(tmp_path, "dry", "--use-spot", "--dry-run", seeds=2))
    assert code == 0, err
    folder = tmp_path / "dry" / "sky"
    assert f"task YAMLs: 5 written to {folder}/ (secrets redacted)" in out
    assert "one managed job per job (L4:1, spot) on any enabled cloud" in out and "W&B online" in out
    assert "nothing launched (--dry-run)" in out and "time estimate" in out
    files = sky_files(folder)
    assert [f.name for f in files] == sorted(
        ["dry.baseline.level_1_basic.yaml"]
        + [f"dry.fast.level_1_basic.s{s}.{k}.yaml" for s in (0, 1) for k in ("train", "eval")]
    )
    for path in files:
        config = yaml.safe_load(path.read_text())
        task = sky.Task.from_yaml_config(yaml.safe_load(path.read_text()))  # it consumes the dict it reads
        task.validate()
        (resources,) = task.resources
        if "baseline" in path.name:  # a random policy needs no GPU: a CPU node, and no GPU check in its setup
            assert resources.accelerators is None and resources.cpus == "2+"
            assert "sees no GPU" not in config["setup"]
        else:
            assert resources.use_spot and resources.accelerators == {"L4": 1} and "sees no GPU" in config["setup"]
        assert config["secrets"] == {"WANDB_API_KEY": None} and config["envs"]["WANDB_MODE"] == "online"
        assert set(task.storage_mounts) == {"/archbench-results"}
    baseline = yaml.safe_load((folder / "dry.baseline.level_1_basic.yaml").read_text())
    assert "--out /archbench-results/dry.baseline.level_1_basic/level_1_basic.json" in baseline["run"]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert fake_wandb_key not in path.read_text(errors="replace"), path
    assert not (tmp_path / "dry" / "benchmark_results.json").exists()


def test_cluster_dry_run_writes_the_cluster_yaml_too(tmp_path, capsys, sky_home, monkeypatch):
    import sky

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    extra = ("--cluster", "pool", "--nodes", "2", "--gpus-per-node", "4", "--accelerator", "a100", "--dry-run")
    code, out, err = call(capsys, *cloud_argv(tmp_path, "cdry", *extra))
    assert code == 0, err
    assert "cluster pool: 2 x A100:4, 1 GPU(s) per job" in out and "W&B offline" in out
    cluster = yaml.safe_load((tmp_path / "cdry" / "sky" / "cluster-pool.yaml").read_text())
    task = sky.Task.from_yaml_config(cluster)
    task.validate()
    assert task.num_nodes == 2 and next(iter(task.resources)).accelerators == {"A100": 4}
    for path in sky_files(tmp_path / "cdry" / "sky"):
        sky.Task.from_yaml_config(yaml.safe_load(path.read_text())).validate()
    assert len(sky_files(tmp_path / "cdry" / "sky")) == 4


def test_cloud_dry_run_prices_the_plan_from_the_catalog(tmp_path, capsys, sky_home, monkeypatch):
    """Node-hours from measured throughput (a fake local experiment first) + assumed setup, priced from the
    catalog fixture (AWS g6.xlarge: L4 $0.8048/h, spot $0.3215/h); every figure names its source."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("ARCHBENCH_JOB_PROGRAM", f"{sys.executable} {FAKE_JOB}")
    monkeypatch.setenv("FAKE_JOB_SECONDS", "0")
    code, _, err = call(capsys, "--experiment-id", "measured", *GRID, "--local", "--output-dir", str(tmp_path))
    assert code == 0, err
    code, out, err = call(capsys, *cloud_argv(tmp_path, "priced", "--cloud", "aws", "--use-spot", "--dry-run"))
    assert code == 0, err
    assert "cloud estimate: 2 GPU jobs, ~" in out and "this machine's CPU throughput (upper bound)" in out
    assert "node setup 10 min per job, assumed, not measured" in out
    assert "price: $0.80/h on-demand, spot $0.32/h for g6.xlarge (AWS, us-east-1; cheapest L4:1 in SkyPilot" in out
    hours = float(re.search(r"~([0-9.]+) node-hours of L4:1", out).group(1))
    cost = float(re.search(r"cost: ~\$([0-9,]+) spot", out).group(1).replace(",", ""))
    assert hours >= 2 * 600 / 3600 - 0.05 and cost == pytest.approx(hours * 0.3215, abs=0.6)

    code, out, _ = call(capsys, *cloud_argv(tmp_path, "nogpu", "--cloud", "aws", "--accelerator", "A100", "--dry-run"))
    assert code == 0 and "price: unknown (no A100:1 offering in SkyPilot's catalog for aws)" in out


def test_default_parallelism_on_the_cloud():
    from benchmark.orchestration.factory import MANAGED_MAX_PARALLEL, default_max_parallel
    from benchmark.orchestration.options import resolve_options

    base = {"experiment_id": "p", "timesteps": 10, "storage": STORAGE}
    assert default_max_parallel(resolve_options(base)) == MANAGED_MAX_PARALLEL == 8
    cluster = {**base, "cluster": "c", "nodes": 3, "gpus_per_node": 4}
    assert default_max_parallel(resolve_options(cluster)) == 12
    assert default_max_parallel(resolve_options({**cluster, "gpus": 2})) == 6


def test_local_path_never_imports_sky_and_a_cloud_dry_run_contacts_no_api_server(tmp_path, sky_home):
    """The local path imports no sky at all; a cloud dry run reads SkyPilot's catalog (prices) but never asks
    its API server for anything (every SDK call would go through `get_server_url`)."""
    local = textwrap.dedent(
        f"""
        import sys
        from benchmark.adaptive import main
        try:
            main(["--experiment-id", "n", *{GRID!r}, "--dry-run", "--output-dir", {str(tmp_path)!r}, "--local"])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        print("SKY_MODULES", sorted(m for m in sys.modules if m == "sky" or m.startswith("sky.")))
        """
    )
    cloud = textwrap.dedent(
        f"""
        import sky.server.common as common
        def refuse(*args, **kwargs):
            raise AssertionError("the dry run contacted the SkyPilot API server")
        common.get_server_url = common.check_server_healthy_or_start_fn = refuse
        from benchmark.adaptive import main
        try:
            main(["--experiment-id", "n", *{GRID!r}, "--dry-run", "--output-dir", {str(tmp_path)!r},
                  "--storage", "{STORAGE}", "--cloud", "aws"])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "WANDB_API_KEY"}
    done = subprocess.run([sys.executable, "-c", local], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SKY_MODULES []" in done.stdout
    env["HOME"] = str(sky_home)
    done = subprocess.run([sys.executable, "-c", cloud], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "price: $0.80/h on-demand" in done.stdout
    assert len(sky_files(tmp_path / "n" / "sky")) == 7  # 3 seeds x (train, eval) + 1 baseline


# ---- the result line ----------------------------------------------------------------------------------------


def test_result_line_is_read_from_the_last_attempt_only(tmp_path):
    plan = make_plan(tmp_path, archs=["a"], levels=["l1"], seeds=1, baselines=False)
    train = plan.job("x.a.l1.s0.train")
    log = tmp_path / "train.log"
    old = result_line("train", {"agent_steps": 1})
    new = result_line("train", {"agent_steps": 2})
    log.write_text(f"==== attempt 1\n{old}\n==== attempt 2\n\x1b[32m(head, rank=0) {new}\x1b[0m\nbye\n")
    assert result_from_log(log) == {"kind": "train", "data": {"agent_steps": 2}}
    assert json.loads(materialize_result(train, log).read_text()) == {"agent_steps": 2}
    log.write_text(f"==== attempt 1\n{old}\n==== attempt 2\nno result\n")
    with pytest.raises(OutputError, match="holds no ARCHBENCH_RESULT line"):
        materialize_result(train, log)
    log.write_text(result_line("eval", {"format": "x"}) + "\n")
    with pytest.raises(OutputError, match="is a 'eval' result, not train"):
        materialize_result(train, log)


def test_cli_prints_the_result_line_only_on_nodes(tmp_path):
    """Real `archbench train` and `archbench evaluate` (tiny): the line carries exactly the files they wrote."""
    run = tmp_path / "run"
    train = ["train", "--timesteps", "384", "--rows", "24", "--bptt", "16", "--minibatches", "2", "--threads", "1"]
    train += ["--out", str(run), "--quiet"]
    cli = [sys.executable, "-m", "benchmark.cli"]
    env = {**os.environ, "ARCHBENCH_PRINT_RESULT": "1"}
    done = subprocess.run([*cli, *train], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    log = tmp_path / "train.log"
    log.write_text(done.stdout)
    payload = result_from_log(log)
    assert payload is not None and payload["kind"] == "train"
    assert payload["data"] == json.loads((run / "train_summary.json").read_text())
    evaluate = [*cli, "evaluate", "--run", str(run), "--episodes", "1", "--threads", "1", "--replays", "0"]
    done = subprocess.run(evaluate, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    log.write_text(done.stdout)
    payload = result_from_log(log)
    assert payload is not None and payload["kind"] == "eval"
    assert payload["data"] == json.loads((run / "eval.json").read_text())


def test_local_jobs_print_no_result_line(tmp_path, capsys, monkeypatch):
    from benchmark.cli import _print_result

    (tmp_path / "eval.json").write_text('{"format": "archbench-eval-v1"}')
    monkeypatch.delenv("ARCHBENCH_PRINT_RESULT", raising=False)
    _print_result("eval", tmp_path / "eval.json")
    assert capsys.readouterr().out == ""  # local runs: output unchanged
    monkeypatch.setenv("ARCHBENCH_PRINT_RESULT", "1")
    _print_result("eval", tmp_path / "eval.json")
    assert capsys.readouterr().out == 'ARCHBENCH_RESULT {"kind":"eval","data":{"format":"archbench-eval-v1"}}\n'


# ---- a real attempt (slow: starts a private SkyPilot API server) ---------------------------------------------


@pytest.mark.slow
def test_real_cli_launch_without_cloud_ends_in_one_line(sky_home: Path, tmp_path: Path) -> None:
    """`benchmark/adaptive.py` without --local, with real SkyPilot and no cloud: one line, exit 2, valid ledger."""
    from test_sky_backend import _free_port

    env = {
        **os.environ,
        "HOME": str(sky_home),
        "SKYPILOT_DISABLE_USAGE_COLLECTION": "1",
        "SKYPILOT_API_SERVER_LOCAL_PORT": str(_free_port()),  # never touch another engineer's server
    }
    env.pop("WANDB_API_KEY", None)
    command = [sys.executable, "benchmark/adaptive.py", *cloud_argv(tmp_path, "real")]
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(
            [sys.executable, "-m", "sky.client.cli.command", "api", "stop"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    # with a bucket to mount, SkyPilot finds no cloud storage before it looks for compute
    assert done.stderr.strip().splitlines()[-1] == f"error: {NO_STORAGE_MESSAGE}", done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    ledger = read_ledger(tmp_path / "real" / "benchmark_results.json", "real")
    assert ledger is not None and ledger.sessions[-1].outcome == "backend unavailable"
    assert all(r.training.attempts == 0 for r in ledger.runs)
