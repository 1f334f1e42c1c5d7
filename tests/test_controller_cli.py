"""The controller's command line: one-line usage errors, --dry-run, refusing a bad ledger, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from orchestration_helpers import FAKE_JOB, ROOT

from benchmark.adaptive import main

BASE = ["--timesteps", "1000", "--local", "--architectures", "fast", "--levels", "level_1_basic"]


def call(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--experiment-id", "e", "--timesteps", "10", "--levels", "level_9"],
            "unknown level level_9; valid: level_1_basic, ",
        ),
        (
            ["--experiment-id", "e", "--timesteps", "10", "--architectures", "fast,nope"],
            "unknown architecture nope; valid: fast",
        ),
        (["--experiment-id", "e", "--timesteps", "0"], "--timesteps: Input should be greater than 0 (got 0)"),
        (
            ["--experiment-id", "e", "--timesteps", "many"],
            "Invalid value for '--timesteps': 'many' is not a number; write e.g. 2000000, 2_000_000 or 2e6",
        ),
        (
            ["--experiment-id", "e", "--timesteps", "10", "--max-parallel", "0"],
            "--max-parallel: Input should be greater",
        ),
        (
            ["--experiment-id", "a.b", "--timesteps", "10"],
            "--experiment-id: use letters, digits, '-' and '_' (starting with a letter or digit, at most 64) "
            "(got 'a.b')",
        ),
        (["--experiment-id", "e", "--timesteps", "10", "--levels", "levl_1_basic"], "did you mean 'level_1_basic'?"),
        (["--experiment-id", "e", "--timesteps", "1.5"], "'1.5' is not a whole number"),
        (
            ["--experiment-id", "e", "--timesteps", "10", "--local", "--storage", "s3://x/y", "--use-spot"],
            "--storage, --use-spot only apply on the cloud: drop them to run here with --local, or use --no-local",
        ),
        (
            ["--experiment-id", "e", "--timesteps", "10", "--local", "--accelerator", "H100"],
            "--accelerator only applies on the cloud: drop it",
        ),
        (
            ["--experiment-id", "e", "--timesteps", "10", "--cloud", "awz"],
            "unknown cloud 'awz' in 'awz'; did you mean 'aws'?",
        ),
        (
            ["--experiment-id", "e", "--timesteps", "10", "--accelerator", "A100:2", "--storage", "s3://b/p"],
            "--accelerator takes a GPU name without a count: use --accelerator A100 --gpus 2",
        ),
        (["--timesteps", "10"], "missing --experiment-id (or a --recipe that sets it"),
        (["--experiment-id", "e", "--timesteps", "10", "--wandb-mode", "loud"], "--wandb-mode: Input should be"),
        (["--recipe", "nope"], "recipe 'nope' not found"),
        (["--experiment-id", "e", "--timesteps", "10", "--levels", ""], "--levels: needs at least one"),
        (["--experiment-id", "e", "--timesteps", "10", "--no-local"], "resumes from it; or add --local to run on this"),
        (
            ["--experiment-id", "e", "--timesteps", "10", "--accelerator", "Z999", "--storage", "s3://b/p"],
            "--accelerator: Unknown accelerator 'Z999'; valid names: A10, A10G, A100",
        ),
        (
            ["--experiment-id", "e", "--timesteps", "10", "--nodes", "2", "--storage", "s3://b/p"],
            "--nodes and --gpus-per-node only apply in cluster mode: add --cluster NAME",
        ),
        (
            ["--experiment-id", "e", "--timesteps", "10", "--storage", "bucket/x"],
            "--storage: storage 'bucket/x' is not",
        ),
        (
            [
                *("--experiment-id", "e", "--timesteps", "10", "--storage", "s3://b"),
                *("--cluster", "c", "--gpus", "2", "--gpus-per-node", "1"),
            ],
            "gpus=2 per job exceeds gpus_per_node=1",
        ),
        (
            ["--experiment-id", "e", "--timesteps", "10", "--storage", "s3://b", "--skip-training"],
            "--skip-training needs --local",
        ),
        (["--experiment-id", "e", "--timesteps", "10", "--bogus"], "No such option: --bogus"),
        (
            ["--experiment-id", "e", "--timesteps", "10", "--architectures-module", "nope.py"],
            "'nope.py' does not exist",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch, argv, message):
    import benchmark.orchestration.backends.sky as sky_backend

    def no_sky(*args, **kwargs):
        raise AssertionError("a bad input reached SkyPilot")

    monkeypatch.setattr(sky_backend, "SkyClient", no_sky)  # never the real client (it would start an API server)
    code, out, err = call(capsys, *argv, "--output-dir", str(tmp_path))
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "e").exists()


def test_bad_recipes(capsys, tmp_path):
    bad_key = tmp_path / "r.toml"
    bad_key.write_text('experiment_id = "r"\ntimesteps = 10\nmax_paralel = 2\n')
    code, _, err = call(capsys, "--recipe", str(bad_key))
    assert code == 2 and "unknown key max_paralel; valid: " in err and err.count("\n") == 1
    bad_toml = tmp_path / "b.toml"
    bad_toml.write_text("timesteps = = 3")
    code, _, err = call(capsys, "--recipe", str(bad_toml))
    assert code == 2 and "is not valid TOML" in err and err.count("\n") == 1


def test_shipped_recipes_load_and_flags_override_them():
    from benchmark.orchestration.options import load_recipe, resolve_options

    for name in ("first", "smoke", "quick", "full"):
        assert load_recipe(name)["experiment_id"] == name
    opts = resolve_options({"recipe": "smoke", "seeds_per_level": 2, "experiment_id": "mine"})
    assert (opts.experiment_id, opts.seeds_per_level, opts.local, opts.levels) == ("mine", 2, True, ["level_1_basic"])
    quick = resolve_options({"recipe": "quick"})
    assert quick.timesteps == 2_000_000 and quick.level_timesteps["level_5_expert"] == 20_000_000
    full = resolve_options({"recipe": "recipes/full.toml"})
    assert full.seeds_per_level == 3 and full.architectures is None and full.levels is None  # all of them


def test_dry_run_launches_nothing(capsys, tmp_path, monkeypatch):
    marks = tmp_path / "marks"
    monkeypatch.setenv("ARCHBENCH_JOB_PROGRAM", f"{sys.executable} {FAKE_JOB}")
    monkeypatch.setenv("FAKE_JOB_MARKS", str(marks))
    code, out, _ = call(
        capsys,
        "--experiment-id",
        "d",
        *BASE,
        "--seeds-per-level",
        "2",
        "--dry-run",
        "--no-probe",
        "--output-dir",
        str(tmp_path),
    )
    assert code == 0
    assert "2 runs = 1 architecture x 1 level x 2 seeds; 5 jobs (2 train, 2 eval, 1 random baseline)" in out
    assert "2,000 in all" in out and "time estimate: unknown" in out and "nothing launched (--dry-run)" in out
    assert not marks.exists() and not (tmp_path / "d").exists()


def test_run_then_resume_then_dry_run_estimates_from_measured_sps(capsys, tmp_path, monkeypatch):
    """A whole (fake-job) experiment through the CLI; the same command again launches nothing."""
    marks = tmp_path / "marks"
    monkeypatch.setenv("ARCHBENCH_JOB_PROGRAM", f"{sys.executable} {FAKE_JOB}")
    monkeypatch.setenv("FAKE_JOB_MARKS", str(marks))
    monkeypatch.setenv("FAKE_JOB_SECONDS", "0")
    argv = ["--experiment-id", "r", *BASE, "--seeds-per-level", "2", "--output-dir", str(tmp_path)]
    code, out, _ = call(capsys, *argv)
    assert code == 0, out
    assert "2/2 runs evaluated; jobs: 5 succeeded, 0 failed" in out and "5 launched this session" in out
    ledger = json.loads((tmp_path / "r" / "benchmark_results.json").read_text())
    assert ledger["end_time"] and ledger["max_timesteps"] == 1000 and ledger["config"]["max_parallel"] >= 1
    assert ledger["environment"]["python"] and "git_commit" in ledger["environment"]
    assert all(
        r["evaluation"]["metrics"]["simulations"]["basic"]["reward_per_agent"]["mean"] == 1.0 for r in ledger["runs"]
    )
    assert ledger["baselines"]["level_1_basic"]["status"] == "success"
    starts = marks.read_text().count("start ")

    code, out, _ = call(capsys, *argv)  # resume a finished experiment: nothing to do
    assert code == 0 and "0 launched this session" in out and marks.read_text().count("start ") == starts
    assert len(json.loads((tmp_path / "r" / "benchmark_results.json").read_text())["sessions"]) == 2

    code, _, err = call(capsys, *argv[:-2], "--seeds-per-level", "3", "--output-dir", str(tmp_path), "--dry-run")
    assert code == 2 and "has --seeds-per-level 2 (from its ledger), not 3" in err and "--extend" in err
    more = [*argv[:-2], "--seeds-per-level", "3", "--output-dir", str(tmp_path), "--dry-run", "--extend"]
    code, out, _ = call(capsys, *more)
    assert code == 0 and "resuming: 5 jobs done" in out and "time estimate: ~" in out
    assert "new runs (--extend): 1: r.fast.level_1_basic.s2" in out
    code, out, _ = call(capsys, "--experiment-id", "r", "--output-dir", str(tmp_path), "--dry-run")
    assert code == 0 and "2 runs = 1 architecture x 1 level x 2 seeds" in out and "1,000 agent steps per run" in out

    code, _, err = call(capsys, *[a if a != "1000" else "2000" for a in argv])
    assert code == 2 and "was started with --timesteps 1000, not 2000" in err


def test_corrupt_ledger_is_refused_and_kept(capsys, tmp_path):
    ledger = tmp_path / "c" / "benchmark_results.json"
    ledger.parent.mkdir()
    ledger.write_text('{"format": "archbench-results-v1", "experim')
    code, _, err = call(capsys, "--experiment-id", "c", *BASE, "--output-dir", str(tmp_path))
    assert code == 2 and "is corrupt" in err and err.count("\n") == 1
    assert ledger.read_text() == '{"format": "archbench-results-v1", "experim'


def controller_cmd(tmp_path: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "benchmark/adaptive.py",
        "--experiment-id",
        "k",
        "--timesteps",
        "1000",
        "--local",
        "--max-parallel",
        "2",
        "--architectures",
        "fast",
        "--levels",
        "level_1_basic,level_2_easy",
        "--seeds-per-level",
        "3",
        "--output-dir",
        str(tmp_path),
        "--retry-backoff",
        "0",
        *extra,
    ]


def fake_env(tmp_path: Path, seconds: str) -> dict[str, str]:
    return {
        **os.environ,
        "ARCHBENCH_JOB_PROGRAM": f"{sys.executable} {FAKE_JOB}",
        "FAKE_JOB_MARKS": str(tmp_path / "marks"),
        "FAKE_JOB_SECONDS": seconds,
    }


def wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def job_pids(marks: Path) -> list[int]:
    return [int(line.split()[2]) for line in marks.read_text().splitlines() if line.startswith("start")]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] not in "ZX"
    except OSError:
        return False


def test_resume_after_controller_sigkill_runs_no_finished_job_twice(tmp_path):
    marks = tmp_path / "marks"
    env = fake_env(tmp_path, "0.5")
    first = subprocess.Popen(
        controller_cmd(tmp_path), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for(lambda: marks.exists() and marks.read_text().count("done ") >= 5, 60)
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        first.kill()
    done_before = {line.split()[1] for line in marks.read_text().splitlines() if line.startswith("done")}
    wait_for(lambda: not any(alive(p) for p in job_pids(marks)), 10)  # no orphaned job outlived it
    ledger = json.loads((tmp_path / "k" / "benchmark_results.json").read_text())  # valid after SIGKILL
    assert ledger["sessions"][0]["outcome"] == "running"

    second = subprocess.run(controller_cmd(tmp_path), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    lines = marks.read_text().splitlines()
    done = [line.split()[1] for line in lines if line.startswith("done")]
    assert len(done) == len(set(done)) == 14  # 6 runs x (train, eval) + 2 baselines, each finished once
    for job in done_before:  # finished before the kill: never started again
        assert sum(1 for line in lines if line.split()[:2] == ["start", job]) == 1
    ledger = json.loads((tmp_path / "k" / "benchmark_results.json").read_text())
    assert all(r["training"]["status"] == r["evaluation"]["status"] == "success" for r in ledger["runs"])
    assert [s["outcome"] for s in ledger["sessions"]] == ["running", "complete"]


def test_ctrl_c_stops_children_keeps_a_valid_ledger_and_prints_the_resume_command(tmp_path):
    marks = tmp_path / "marks"
    env = fake_env(tmp_path, "30")
    proc = subprocess.Popen(
        controller_cmd(tmp_path), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for(lambda: marks.exists() and marks.read_text().count("start ") >= 2, 60)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, out
    assert "interrupted" in out and "python benchmark/adaptive.py --experiment-id k --timesteps 1000" in out
    assert not any(alive(p) for p in job_pids(marks))
    ledger = json.loads((tmp_path / "k" / "benchmark_results.json").read_text())
    assert ledger["sessions"][-1]["outcome"] == "interrupted"
    records = [r["training"] for r in ledger["runs"]] + [r["evaluation"] for r in ledger["runs"]]
    records += list(ledger["baselines"].values())
    assert {r["status"] for r in records} == {"pending"}
    assert sum(r["attempts"] for r in records) == 2
