"""Jobs as subprocesses on this machine: the project's own CLI, one process group and one log file per job.

- Each job runs `python -m benchmark.cli <argv>` with the controller's interpreter and the controller's copy of
  the package first on PYTHONPATH, so jobs run exactly the code the controller runs.
- Cores are divided among running jobs: ARCHBENCH_THREADS = max(1, cpus // jobs running), capped by the cores
  other processes leave free, and 1 for an evaluation; decided at submit
  (on 2 cores, two jobs with 2 torch threads each ran 4x slower than one job).
- With GPUs, each job gets a CUDA_VISIBLE_DEVICES slot (`jobs_per_gpu` jobs share one GPU).
- Each job leads its own session/process group, so cancel kills the whole group; on Linux the child is also
  bound to the controller with PR_SET_PDEATHSIG, so a SIGKILLed controller leaves no orphaned job behind.
- Handles are "<pid>:<start-time>" and survive a controller restart: a live process with that identity can be
  re-attached (watched and cancelled, though its exit code is lost: the scheduler then checks its outputs).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from benchmark.cpus import available_cpus, busy_cpus
from benchmark.orchestration.backend import BackendState, JobKind, JobSpec, JobStatus
from benchmark.procs import bind_to_parent

PROJECT_ROOT = Path(__file__).resolve().parents[3]  # the folder holding the `benchmark` package


def detect_gpus() -> list[str]:
    """GPU ids this process may use: CUDA_VISIBLE_DEVICES when set, else `nvidia-smi -L`; never imports torch."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]


# ---- process identity ----------------------------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The process start time in clock ticks (field 22 of /proc/PID/stat): with the pid, a unique identity."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :].split()[0] in ("Z", "X")


def _parse_handle(handle: str) -> tuple[int, str | None]:
    pid, _, start = handle.partition(":")
    return int(pid), (start or None)


def _alive(handle: str) -> bool:
    try:
        pid, start = _parse_handle(handle)
    except ValueError:
        return False
    if start is None:  # no /proc: best effort
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return _start_time(pid) == start and not _is_zombie(pid)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"


@dataclass
class _Child:
    popen: subprocess.Popen
    spec: JobSpec
    log: IO[bytes]
    gpu: str | None
    threads: int = 1
    status: JobStatus | None = None
    cancelled: bool = False


class LocalBackend:
    """Subprocess jobs. `concurrency_hint` (set by the scheduler) is how many jobs it expects to run at once."""

    name = "local"
    poll_interval = 0.25  # seconds between status checks (a waitpid per running job: cheap)
    submit_rate = 10.0  # submits per second at most
    local_files = True  # logs and run folders are on this machine: the scheduler may read heartbeats

    def __init__(
        self,
        *,
        cpus: int | None = None,
        gpus: Sequence[str] | None = None,
        jobs_per_gpu: int = 1,
        program: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
        terminate_grace: float = 5.0,
        busy: Callable[[], float] | None = None,
    ):
        if jobs_per_gpu < 1:
            raise ValueError(f"jobs_per_gpu must be >= 1, got {jobs_per_gpu}")
        self.cpus = cpus or available_cpus()
        self.busy = busy or (lambda: busy_cpus(0.1))  # CPUs busy machine-wide (our own jobs included)
        self.gpus = list(detect_gpus() if gpus is None else gpus)
        self.jobs_per_gpu = jobs_per_gpu
        self.program = tuple(program or (sys.executable, "-m", "benchmark.cli"))
        self.env = dict(env or {})
        self.terminate_grace = terminate_grace
        self.concurrency_hint = 0
        self._children: dict[str, _Child] = {}
        self._foreign_cancelled: set[str] = set()
        self._gpu_load = {g: 0 for g in self.gpus}

    @property
    def capacity(self) -> int | None:
        """Jobs that fit at once (GPU slots), None for unlimited (CPU only)."""
        return len(self.gpus) * self.jobs_per_gpu if self.gpus else None

    def _live(self) -> list[_Child]:
        return [c for c in self._children.values() if c.status is None]

    def live_handles(self) -> list[str]:
        """Jobs this backend started that have not been seen to end (a poll notices an end)."""
        return [h for h, c in self._children.items() if c.status is None]

    def threads_for_next_job(self, kind: JobKind = JobKind.TRAIN) -> int:
        """An evaluation gets 1 thread (its small batches only wait on more); training an equal share of the
        cores, and never more than the cores that processes other than our own jobs leave free: a job that
        counts only its siblings collapsed 20x beside one foreign CPU-bound process."""
        if kind == JobKind.EVAL:
            return 1
        sharing = max(len(self._live()) + 1, self.concurrency_hint)
        share = max(1, self.cpus // sharing)
        ours = sum(c.threads for c in self._live())  # busy counts our own jobs too: only the rest is foreign
        foreign = max(0.0, self.busy() - ours)
        return max(1, min(share, round(self.cpus - foreign + 0.25)))

    def _take_gpu(self) -> str | None:
        if not self.gpus:
            return None
        gpu = min(self.gpus, key=lambda g: self._gpu_load[g])
        if self._gpu_load[gpu] >= self.jobs_per_gpu:
            raise RuntimeError(f"all {len(self.gpus)} GPUs hold {self.jobs_per_gpu} jobs already")
        self._gpu_load[gpu] += 1
        return gpu

    # ---- the Backend protocol ----------------------------------------------------------------------------

    async def submit(self, spec: JobSpec) -> str:
        threads = self.threads_for_next_job(spec.kind)
        gpu = self._take_gpu()
        env = {**os.environ, **self.env, **spec.env}
        env["ARCHBENCH_THREADS"] = env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
        env["PYTHONUNBUFFERED"] = "1"  # the log file's mtime is the job's heartbeat
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        argv = [*self.program, *spec.argv]
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        spec.run_dir.mkdir(parents=True, exist_ok=True)
        log = open(spec.log_path, "ab")  # noqa: SIM115 - closed when the job ends
        where = f"{threads} thread{'s' if threads > 1 else ''}" + (f", GPU {gpu}" if gpu is not None else "")
        log.write(
            f"==== {time.strftime('%Y-%m-%d %H:%M:%S')} attempt {spec.attempt} ({where}): {shlex.join(argv)}\n".encode()
        )
        log.flush()
        try:
            # Popen runs in the event loop's thread on purpose: PDEATHSIG fires when the *thread* that forked the
            # child ends, so a worker thread would kill the job as soon as that thread exits.
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=bind_to_parent(os.getpid()),
            )
        except BaseException:
            log.close()
            if gpu is not None:
                self._gpu_load[gpu] -= 1
            raise
        start = _start_time(popen.pid)
        handle = f"{popen.pid}:{start}" if start else str(popen.pid)
        self._children[handle] = _Child(popen, spec, log, gpu, threads)
        return handle

    async def poll(self, handles: list[str]) -> dict[str, JobStatus]:
        out: dict[str, JobStatus] = {}
        for handle in handles:
            child = self._children.get(handle)
            if child is None:
                out[handle] = self._poll_foreign(handle)
                continue
            if child.status is None:
                code = child.popen.poll()
                if code is None:
                    out[handle] = JobStatus(BackendState.RUNNING)
                    continue
                self._ended(child, code)
            assert child.status is not None
            out[handle] = child.status
        return out

    async def cancel(self, handles: list[str]) -> None:
        targets: list[tuple[str, int]] = []
        for handle in handles:
            child = self._children.get(handle)
            if child is not None:
                if child.status is None:
                    child.cancelled = True
                    targets.append((handle, child.popen.pid))
            elif _alive(handle):
                self._foreign_cancelled.add(handle)
                targets.append((handle, _parse_handle(handle)[0]))
        if not targets:
            return
        for _, pid in targets:
            _killpg(pid, signal.SIGTERM)
        start = time.monotonic()
        while time.monotonic() < start + self.terminate_grace and any(self._running(h) for h, _ in targets):
            await asyncio.sleep(0.05)
        for handle, pid in targets:
            if self._running(handle):
                _killpg(pid, signal.SIGKILL)
        for handle, _ in targets:
            child = self._children.get(handle)
            if child is not None and child.status is None:
                self._ended(child, child.popen.wait())

    async def fetch_logs(self, handle: str, dest: Path) -> Path | None:
        child = self._children.get(handle)
        if child is None or not child.spec.log_path.exists():
            return None
        if Path(dest).resolve() != child.spec.log_path.resolve():
            shutil.copyfile(child.spec.log_path, dest)
        return Path(dest)

    async def close(self) -> None:
        live = [h for h, c in self._children.items() if c.status is None]
        if live:
            await self.cancel(live)

    # ---- helpers -----------------------------------------------------------------------------------------

    def _running(self, handle: str) -> bool:
        child = self._children.get(handle)
        if child is not None:
            return child.status is None and child.popen.poll() is None
        return _alive(handle)

    def _ended(self, child: _Child, code: int) -> None:
        _killpg(child.popen.pid, signal.SIGKILL)  # anything the job left behind in its group
        child.log.close()
        if child.gpu is not None:
            self._gpu_load[child.gpu] -= 1
        if child.cancelled:
            child.status = JobStatus(BackendState.CANCELLED, code, "cancelled by the controller")
        elif code == 0:
            child.status = JobStatus(BackendState.SUCCEEDED, 0)
        else:
            child.status = JobStatus(BackendState.FAILED, code, _describe_exit(code))

    def _poll_foreign(self, handle: str) -> JobStatus:
        """A job started by an earlier controller: alive -> RUNNING (re-attached); else its fate is unknown."""
        if _alive(handle):
            return JobStatus(BackendState.RUNNING)
        if handle in self._foreign_cancelled:
            return JobStatus(BackendState.CANCELLED, None, "cancelled by the controller")
        return JobStatus(BackendState.LOST, None, "process ended while no controller watched it; exit code unknown")


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
