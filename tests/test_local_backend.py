"""The local backend with real subprocesses: exit codes, logs, threads, GPU slots, process groups, no orphans."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from orchestration_helpers import FAKE_JOB, ROOT, make_plan, new_store

from benchmark.orchestration.backend import BackendState, JobKind, JobSpec
from benchmark.orchestration.backends.local import LocalBackend
from benchmark.orchestration.ledger import Status
from benchmark.orchestration.scheduler import Scheduler, SchedulerConfig

# a job program: python -c JOB <argv...>; argv[0] says what to do
JOB = textwrap.dedent(
    """
    import os, subprocess, sys, time
    action = sys.argv[1]
    print("threads", os.environ.get("ARCHBENCH_THREADS"), "gpu", os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
    if action == "exit":
        sys.exit(int(sys.argv[2]))
    if action == "sleep":
        time.sleep(float(sys.argv[2]))
    if action == "family":  # a child of its own, then wait: cancel must take both
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open(sys.argv[2], "w").write(f"{os.getpid()} {child.pid}")
        time.sleep(60)
    """
)


def spec(tmp_path: Path, name: str, *argv: str) -> JobSpec:
    return JobSpec(
        job_id=name,
        run_id=name,
        kind=JobKind.TRAIN,
        argv=argv,
        run_dir=tmp_path / "runs" / name,
        log_path=tmp_path / "logs" / f"{name}.log",
    )


def backend(**kwargs) -> LocalBackend:
    kwargs.setdefault("gpus", [])
    kwargs.setdefault("busy", lambda: 0.0)  # a quiet machine, whatever else this one runs
    return LocalBackend(program=(sys.executable, "-c", JOB), **kwargs)


async def wait_end(b: LocalBackend, handle: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = (await b.poll([handle]))[handle]
        if status.state not in (BackendState.RUNNING, BackendState.QUEUED):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle} still running after {timeout} s")


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def test_exit_codes_and_log_files(tmp_path):
    async def main():
        b = backend(cpus=4)
        ok = await b.submit(spec(tmp_path, "ok", "exit", "0"))
        bad = await b.submit(spec(tmp_path, "bad", "exit", "3"))
        return await wait_end(b, ok), await wait_end(b, bad)

    ok, bad = asyncio.run(main())
    assert ok.state == BackendState.SUCCEEDED and ok.exit_code == 0
    assert bad.state == BackendState.FAILED and bad.exit_code == 3 and bad.detail == "exit 3"
    log = (tmp_path / "logs" / "bad.log").read_text()
    assert log.startswith("==== ") and "attempt 1 (2 threads)" in log and "threads 2 gpu None" in log


def test_cores_are_divided_among_running_jobs(tmp_path):
    async def main():
        b = backend(cpus=4)
        h1 = await b.submit(spec(tmp_path, "one", "sleep", "0.3"))
        h2 = await b.submit(spec(tmp_path, "two", "sleep", "0.3"))
        await wait_end(b, h1), await wait_end(b, h2)
        b.concurrency_hint = 4  # the scheduler expects 4 at once: the first job already gets a quarter
        h3 = await b.submit(spec(tmp_path, "three", "exit", "0"))
        await wait_end(b, h3)

    asyncio.run(main())
    threads = {
        n: (tmp_path / "logs" / f"{n}.log").read_text().split("threads ")[1].split()[0] for n in ("one", "two", "three")
    }
    assert threads == {"one": "4", "two": "2", "three": "1"}


def test_threads_leave_room_for_foreign_processes_and_evaluations_get_one(tmp_path):
    """One foreign CPU-bound process on 2 cores: a training job gets 1 thread, not 2 (measured 20x slower)."""
    busy = {"now": 1.0}
    b = backend(cpus=2, busy=lambda: busy["now"])
    assert b.threads_for_next_job(JobKind.TRAIN) == 1
    busy["now"] = 0.1
    assert b.threads_for_next_job(JobKind.TRAIN) == 2
    assert b.threads_for_next_job(JobKind.EVAL) == 1
    busy["now"] = 2.0  # everything busy: still one thread, never zero
    assert b.threads_for_next_job(JobKind.TRAIN) == 1


def test_gpu_slots(tmp_path):
    async def main():
        b = backend(cpus=2, gpus=["0", "1"], jobs_per_gpu=1)
        assert b.capacity == 2
        h1 = await b.submit(spec(tmp_path, "g1", "sleep", "0.3"))
        h2 = await b.submit(spec(tmp_path, "g2", "sleep", "0.3"))
        with pytest.raises(RuntimeError, match="GPUs hold 1 jobs"):
            await b.submit(spec(tmp_path, "g3", "exit", "0"))
        await wait_end(b, h1)
        h3 = await b.submit(spec(tmp_path, "g3", "exit", "0"))  # the freed slot
        await wait_end(b, h2), await wait_end(b, h3)

    asyncio.run(main())
    gpu = {n: (tmp_path / "logs" / f"{n}.log").read_text().split("gpu ")[1].split()[0] for n in ("g1", "g2", "g3")}
    assert {gpu["g1"], gpu["g2"]} == {"0", "1"} and gpu["g3"] == gpu["g1"]


def test_cancel_kills_the_whole_process_group(tmp_path):
    pids_file = tmp_path / "pids"

    async def main():
        b = backend(cpus=2, terminate_grace=2)
        h = await b.submit(spec(tmp_path, "fam", "family", str(pids_file)))
        for _ in range(200):
            if pids_file.exists() and pids_file.read_text():
                break
            await asyncio.sleep(0.05)
        await b.cancel([h])
        await b.cancel([h])  # again: must not raise
        return (await b.poll([h]))[h]

    status = asyncio.run(main())
    parent, child = map(int, pids_file.read_text().split())
    assert status.state == BackendState.CANCELLED
    assert wait_gone(parent) and wait_gone(child)


def test_a_killed_controller_leaves_no_orphans(tmp_path):
    """SIGKILL the controller process: PR_SET_PDEATHSIG takes its job down too."""
    pids_file = tmp_path / "pids"
    controller = textwrap.dedent(
        f"""
        import asyncio, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from benchmark.orchestration.backend import JobKind, JobSpec
        from benchmark.orchestration.backends.local import LocalBackend
        JOB = {JOB!r}
        tmp = Path({str(tmp_path)!r})
        spec = JobSpec("j", "j", JobKind.TRAIN, ("sleep", "60"), tmp / "run", tmp / "j.log")
        handle = asyncio.run(LocalBackend(program=(sys.executable, "-c", JOB), gpus=[]).submit(spec))
        Path({str(pids_file)!r}).write_text(handle.split(":")[0])
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", controller])
    try:
        for _ in range(400):
            if pids_file.exists() and pids_file.read_text():
                break
            time.sleep(0.05)
        job_pid = int(pids_file.read_text())
        assert not gone(job_pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert wait_gone(job_pid), "the job outlived its controller"
    finally:
        proc.kill()


def test_a_restarted_controller_reattaches_to_a_live_job(tmp_path):
    async def main():
        first = backend(cpus=2)
        handle = await first.submit(spec(tmp_path, "long", "sleep", "30"))
        second = backend(cpus=2, terminate_grace=2)  # a new controller: it did not start this process
        seen = (await second.poll([handle]))[handle]
        await second.cancel([handle])
        after = (await second.poll([handle]))[handle]
        await first.poll([handle])  # reap it
        lost = await second.poll(["999999:1", "garbage"])
        return seen, after, lost

    seen, after, lost = asyncio.run(main())
    assert seen.state == BackendState.RUNNING
    assert after.state == BackendState.CANCELLED
    assert {s.state for s in lost.values()} == {BackendState.LOST}


def test_sigkilled_training_job_is_retried_and_succeeds(tmp_path, monkeypatch):
    """The real local backend and scheduler; the training subprocess is SIGKILLed from outside mid-run."""
    marks = tmp_path / "marks"
    monkeypatch.setenv("FAKE_JOB_MARKS", str(marks))
    monkeypatch.setenv("FAKE_JOB_SECONDS", "1.0")
    plan = make_plan(tmp_path, archs=["a"], levels=["l1"], seeds=1, baselines=False)
    store = new_store(plan)
    b = LocalBackend(program=(sys.executable, str(FAKE_JOB)), gpus=[], cpus=2)
    train = store.ledger.runs[0].training

    async def killer():
        while not (train.handle and marks.exists() and "start" in marks.read_text()):
            await asyncio.sleep(0.02)
        os.kill(int(train.handle.split(":")[0]), signal.SIGKILL)

    async def main():
        sched = Scheduler(plan, store, b, SchedulerConfig(max_parallel=2, retries=2, backoff_seconds=0.1))
        _, outcome = await asyncio.gather(asyncio.wait_for(killer(), 20), sched.run())
        await b.close()
        return outcome

    outcome = asyncio.run(main())
    assert outcome.complete
    assert train.status == Status.SUCCESS and train.attempts == 2
    assert train.history[0].outcome == "failed" and "killed by SIGKILL" in train.history[0].detail
    assert marks.read_text().count("done x.a.l1.s0.train") == 1
