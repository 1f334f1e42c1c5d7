"""Environment workers: the same trajectories as the in-process environment, and no hang, no orphan."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmark.levels import get_level
from benchmark.levels.curriculum import LearningProgressCurriculum
from benchmark.training.vecenv import BatchedEnv
from benchmark.training.workers import WorkerEnv, WorkerError, auto_workers

ROOT = Path(__file__).resolve().parents[1]


def curriculum(level):
    return LearningProgressCurriculum(level.curriculum, level.num_tasks, 3) if level.curriculum else None


@pytest.mark.parametrize(
    ("level_name", "sims", "steps", "double_buffer"),
    [("level_1_basic", 4, 260, False), ("level_5_expert", 3, 340, True)],
)
def test_workers_step_the_same_trajectories_as_one_process(level_name, sims, steps, double_buffer):
    """Same seeds, staggered first episodes and restarts; on level 5 the curriculum's tasks as well, with the
    workers in two parts stepped one after the other as the double-buffered trainer does. Then a worker is
    killed: the next step raises at once instead of waiting for it."""
    level = get_level(level_name)
    one = BatchedEnv(level, sims, run_seed=3, stagger=True, curriculum=curriculum(level))
    split = WorkerEnv(
        level, sims, 2, run_seed=3, stagger=True, curriculum=curriculum(level), double_buffer=double_buffer
    )
    assert len(split.parts) == (2 if double_buffer else 1)
    try:
        assert split.spec == one.spec
        np.testing.assert_array_equal(split.obs, one.obs)
        rng = np.random.default_rng(0)
        ended = []
        for t in range(steps):
            actions = rng.integers(0, one.spec.num_actions, one.num_rows)
            done_one, finished_one = one.step(actions)
            if double_buffer:  # part 0 steps, is waited for, then part 1 (the trainer's order)
                done_split, finished_split = np.zeros_like(done_one), []
                for k, rows in enumerate(split.parts):
                    split.step_async(actions[rows], k)
                    done_split[rows], got = split.step_wait(k)
                    finished_split += got
            else:
                done_split, finished_split = split.step(actions)
            np.testing.assert_array_equal(done_split, done_one, err_msg=f"step {t}")
            np.testing.assert_array_equal(split.step_rewards, one.step_rewards, err_msg=f"step {t}")
            np.testing.assert_array_equal(split.obs, one.obs, err_msg=f"step {t}")
            assert finished_split == finished_one, f"step {t}"
            ended += finished_one
        assert ended, "no episode ended: the restart path was not compared"
        assert split.episodes == one.episodes

        os.kill(split.pids[1], signal.SIGKILL)
        start = time.monotonic()
        with pytest.raises(WorkerError, match=r"environment worker 1 \(pid \d+\) died: exit code -9"):
            split.step(actions)
        assert time.monotonic() - start < 10
    finally:
        one.close()
        split.close()
    assert not split._procs


SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from benchmark.levels import get_level
from benchmark.training.workers import WorkerEnv
if __name__ == "__main__":
    env = WorkerEnv(get_level("level_1_basic"), 2, 2)
    print(*env.pids, flush=True)
    time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_with_a_sigkilled_trainer(tmp_path):
    script = tmp_path / "trainer.py"
    script.write_text(SCRIPT.format(root=str(ROOT)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in pids), "a worker outlived its SIGKILLed trainer"
    finally:
        proc.kill()


def test_auto_workers_keep_small_machines_in_process():
    assert auto_workers(1, 32, cuda=False) == 0
    assert auto_workers(2, 32, cuda=True) == 0  # this project's CI machine: the in-process path
    assert auto_workers(16, 32, cuda=True) == 15
    assert auto_workers(16, 32, cuda=False) == 8
    assert auto_workers(16, 4, cuda=True) == 4  # never more workers than simulations


def test_training_with_workers_records_them(tmp_path):
    from benchmark.training.config import TrainConfig
    from benchmark.training.trainer import SUMMARY, train

    train(TrainConfig(timesteps=200, rows=24, bptt=4, out=tmp_path, threads=1, env_workers=2, double_buffer=True))
    summary = json.loads((tmp_path / SUMMARY).read_text())
    assert summary["env_workers"] == 2 and summary["double_buffer"] and summary["agent_steps"] >= 200


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_a_training_and_its_workers(tmp_path):
    """SIGINT to the trainer's process group (a terminal's Ctrl-C): the trainer closes its workers and exits."""
    argv = [sys.executable, "-m", "benchmark.cli", "train", "--timesteps", "100000000", "--rows", "24"]
    argv += ["--env-workers", "2", "--threads", "1", "--quiet", "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(argv, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "run" / "metrics.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = children(proc.pid)
        assert len(workers) >= 2, "the workers did not start"
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in workers), "a worker outlived Ctrl-C"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
