"""The command line as a tired researcher meets it: versions, help, paths where ids were meant, defaults
that never collide, finished work left alone, shared-folder permissions."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from benchmark.adaptive import main as controller_main
from benchmark.atomic import atomic_write_json
from benchmark.cli import main as archbench_main
from benchmark.reporting.loader import LEDGER, locate_experiment, trained_steps

ROOT = Path(__file__).resolve().parents[1]


def call(entry, capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        entry(list(argv))
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


@pytest.mark.parametrize("entry", [archbench_main, controller_main])
def test_version_and_short_help(entry, capsys):
    code, out, _ = call(entry, capsys, "--version")
    assert code == 0 and out.startswith("archbench 0.1.0 (python 3.") and "mettagrid 0.26.22" in out
    code, out, _ = call(entry, capsys, "-h")
    assert code == 0 and "Usage:" in out


def test_report_takes_a_path_and_lists_experiments_when_the_id_is_unknown(tmp_path, capsys):
    for name in ("smoke", "quick"):
        (tmp_path / name).mkdir()
        (tmp_path / name / LEDGER).write_text("{}")
    assert locate_experiment(str(tmp_path / "smoke"), Path("results")) == ("smoke", tmp_path)
    assert locate_experiment(str(tmp_path / "smoke" / LEDGER), Path("elsewhere")) == ("smoke", tmp_path)
    assert locate_experiment("quick", tmp_path) == ("quick", tmp_path)
    code, _, err = call(archbench_main, capsys, "report", "smoek", "--output-dir", str(tmp_path))
    assert code == 2 and err.count("\n") == 1
    assert f"unknown experiment 'smoek'; did you mean 'smoke'? experiments in {tmp_path}/: quick, smoke" in err
    code, _, err = call(archbench_main, capsys, "report", "x", "--output-dir", str(tmp_path / "empty"))
    assert code == 2 and "holds none" in err


def test_evaluate_flags_are_named_as_typed(capsys):
    code, _, err = call(archbench_main, capsys, "evaluate", "--policy", "random", "--level", "level_1_basic",
                        "--wandb-mode", "loud")  # fmt: skip
    assert code == 2 and "--wandb-mode" in err and "wandb_mode" not in err
    code, _, err = call(archbench_main, capsys, "train", "--architecture", "vitt", "--timesteps", "1e3")
    assert code == 2 and "unknown architecture 'vitt'; did you mean 'vit'?" in err


def test_train_defaults_to_a_folder_per_run_and_leaves_a_finished_one_alone(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--timesteps", "1e2", "--rows", "12", "--bptt", "8", "--threads", "1", "--quiet"]
    code, _, err = call(archbench_main, capsys, *argv)
    assert code == 0, err
    run = tmp_path / "results" / "runs" / "fast.level_1_basic.s0"
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["timesteps_requested"] == 100 and summary["agent_steps"] == 108  # 9 steps x 12 rows
    assert "trained 108 agent steps (asked 100)" in err
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.is_file()}
    code, _, err = call(archbench_main, capsys, *argv)
    assert code == 0 and "already trained: 108 agent steps (asked 100)" in err
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.is_file()} == before

    code, _, err = call(archbench_main, capsys, *argv[:-1], "--architecture", "memory_free", "--quiet")
    assert code == 0, err  # another architecture gets its own folder: no "checkpoint belongs to" clash
    assert (tmp_path / "results" / "runs" / "memory_free.level_1_basic.s0" / "checkpoint.pt").is_file()

    code, out, err = call(archbench_main, capsys, "evaluate", "--run", str(run / "checkpoint.pt"), "--episodes", "1")
    assert code == 0, err  # the checkpoint file itself: its folder was meant
    assert json.loads((run / "eval.json").read_text())["architecture"] == "fast"


def test_architectures_module_is_found_in_the_working_directory(tmp_path, monkeypatch, capsys):
    from benchmark.architectures import ARCHITECTURES, module_reference

    (tmp_path / "my_arch_cwd.py").write_text(
        "from benchmark.architectures import ARCHITECTURES, register\nregister('cwd_fast', ARCHITECTURES['fast'])\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    assert module_reference("my_arch_cwd") == str(tmp_path / "my_arch_cwd.py")
    try:
        code, out, err = call(archbench_main, capsys, "list", "--json", "--architectures-module", "my_arch_cwd")
        assert code == 0, err
        assert "cwd_fast" in {a["name"] for a in json.loads(out)["architectures"]}
    finally:  # the registry is process-wide: leave it as the other tests expect it
        ARCHITECTURES.pop("cwd_fast", None)
        sys.modules.pop("archbench_user_my_arch_cwd", None)


def test_results_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
        assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
        os.umask(0o002)
        atomic_write_json(tmp_path / "b.json", {"x": 1})
        assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o664
    finally:
        os.umask(old)


def test_the_report_says_what_was_trained():
    ledger = {"max_timesteps": 20000, "runs": [{"training": {"metrics": {"agent_steps": 24576}}}]}
    assert trained_steps(ledger) == "24,576 trained (20,000 asked)"
    assert trained_steps({"max_timesteps": 5, "runs": []}) == "5 asked (none trained yet)"


def test_thread_defaults(monkeypatch):
    from benchmark.cpus import available_cpus, free_cpus
    from benchmark.training.runtime import configure_threads

    monkeypatch.delenv("ARCHBENCH_THREADS", raising=False)
    assert configure_threads(None, role="eval") == 1  # small batches: more threads only wait
    assert configure_threads(3) == 3
    monkeypatch.setenv("ARCHBENCH_THREADS", "2")
    assert configure_threads(None, role="eval") == 2  # the controller's word wins
    cpus = available_cpus()
    assert free_cpus(busy=0.0) == cpus and free_cpus(busy=float(cpus)) == 1
    assert free_cpus(busy=1.0) == max(1, cpus - 1)


def test_atomic_target_gives_unique_names_with_the_suffixes_and_cleans_up(tmp_path):
    from benchmark.atomic import atomic_target

    dest = tmp_path / "sub" / "basic.ep0.json.z"
    with atomic_target(dest) as first, atomic_target(dest) as second:
        assert first != second and first.name.endswith(".ep0.json.z") and not first.exists()
        first.write_text("one")
        second.write_text("two")
    # the inner block ends first, the outer one last: its file wins, and no temporary is left
    assert dest.read_text() == "one" and sorted(p.name for p in dest.parent.iterdir()) == ["basic.ep0.json.z"]
    with pytest.raises(RuntimeError), atomic_target(dest) as failed:
        failed.write_text("half")
        raise RuntimeError("the writer died")
    assert dest.read_text() == "one" and not failed.exists()  # the old file stays, no temporary is left
