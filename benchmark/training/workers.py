"""Simulations split across environment worker processes that step into shared memory.

On a node with many cores next to a GPU, one process stepping every simulation tops out at one core. Here
worker w owns a block of simulation slots (a `BatchedEnv` of them, seeded as those global slots), steps it when
told, and copies its observations, the step's rewards and the done flags into shared arrays the trainer reads.
The interface is `BatchedEnv`'s (`obs`, `step_rewards`, `step`, `spec`, `episodes`, `close`), and so are the
trajectories: the same seeds, the same staggered first episodes, and on a curriculum level the same tasks,
because the trainer's curriculum (one sampler) updates and samples in slot order exactly as the in-process
environment does, then tells the workers which task each restarted slot plays.

A worker that dies or raises ends the step with `WorkerError` (never a hang). Workers ignore Ctrl-C (the trainer
closes them) and are SIGKILLed by the kernel when the trainer dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import signal
import traceback
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory

import numpy as np

from benchmark.components.base import ObsSpec
from benchmark.cpus import available_cpus
from benchmark.levels.base import LevelConfig
from benchmark.levels.curriculum import LearningProgressCurriculum
from benchmark.procs import die_with_parent
from benchmark.training.vecenv import BatchedEnv, EpisodeResult

_FIELDS = ("obs", "rewards", "dones", "actions")  # the shared arrays: observation rows are [tokens, 3]
START_TIMEOUT = 300.0  # seconds for a worker to build its simulations (level 5's largest maps take a few)


class WorkerError(RuntimeError):
    """An environment worker died or raised: the training cannot go on (a retry starts it again)."""


def auto_workers(threads: int, num_sims: int, cuda: bool) -> int:
    """Workers for a job with `threads` cores: none on 1-2 cores (the in-process path is faster there); with
    CUDA every core but the trainer's; on CPU half of them (torch's threads need the other half). A starting
    rule, to be replaced by the GPU node's measurements (benchmarks/gpu.py)."""
    if threads <= 2 or num_sims < 2:
        return 0
    return max(0, min(num_sims, threads - 1 if cuda else threads // 2))


class _Shared:
    """Named shared-memory arrays for `rows` rows; the creator unlinks them."""

    def __init__(self, rows: int, tokens: int, dtypes: dict[str, np.dtype], names: dict[str, str] | None = None):
        shapes = {"obs": (rows, tokens, 3), "rewards": (rows,), "dones": (rows,), "actions": (rows,)}
        self.owner = names is None
        self.blocks: dict[str, SharedMemory] = {}
        self.arrays: dict[str, np.ndarray] = {}
        for field in _FIELDS:
            size = int(np.prod(shapes[field])) * np.dtype(dtypes[field]).itemsize
            block = SharedMemory(create=True, size=max(size, 1)) if names is None else SharedMemory(name=names[field])
            self.blocks[field] = block
            self.arrays[field] = np.ndarray(shapes[field], dtype=dtypes[field], buffer=block.buf)

    @property
    def names(self) -> dict[str, str]:
        return {field: block.name for field, block in self.blocks.items()}

    def close(self) -> None:
        self.arrays.clear()
        for block in self.blocks.values():
            block.close()
            if self.owner:
                block.unlink()
        self.blocks.clear()


def _worker(
    conn: Connection,
    parent: int,
    level: LevelConfig,
    first: int,
    count: int,
    total: int,
    rows: int,
    dtypes: dict[str, np.dtype],
    names: dict[str, str],
    options: dict,
) -> None:
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the trainer decides
    os.environ.setdefault("METTAGRID_LOG_LEVEL", "WARNING")
    shared = None
    try:
        env = BatchedEnv(level, count, slot_offset=first, total_sims=total, **options)
        shared = _Shared(rows, level.obs_tokens, dtypes, names)
        mine = slice(first * level.num_agents, (first + count) * level.num_agents)
        view = {field: array[mine] for field, array in shared.arrays.items()}

        np.copyto(view["obs"], env.obs)
        conn.send(("ready", env.spec if first == 0 else None))
        while True:
            command, arg = conn.recv()
            if command == "step":
                done, finished = env.step(view["actions"], restart=arg)
                np.copyto(view["obs"], env.obs)  # restarted rows: the new episode's first observation
                np.copyto(view["rewards"], env.step_rewards)
                np.copyto(view["dones"], done)  # as computed before any restart
                conn.send(("ok", [dataclasses.replace(e, slot=e.slot + first) for e in finished]))
            elif command == "start":
                for slot, task in arg:
                    env.start(slot - first, task)
                np.copyto(view["obs"], env.obs)
                conn.send(("ok", None))
            else:
                break
        env.close()
    except BaseException:  # noqa: BLE001 - the trainer hears of every failure, then the worker ends
        try:
            conn.send(("error", traceback.format_exc(limit=6)))
        except OSError:
            pass
    finally:
        if shared is not None:
            shared.close()


class WorkerEnv:
    """`num_sims` simulations of one level stepped by `workers` processes; rows are agents, sim-major."""

    def __init__(
        self,
        level: LevelConfig,
        num_sims: int,
        workers: int,
        *,
        run_seed: int = 0,
        stagger: bool = False,
        curriculum: LearningProgressCurriculum | None = None,
        episode_offset: int = 0,
        double_buffer: bool = False,
    ):
        if not 1 <= workers <= num_sims:
            raise ValueError(f"environment workers must be between 1 and the {num_sims} simulations, got {workers}")
        from mettagrid.mettagrid_c import dtype_actions, dtype_observations, dtype_rewards

        self.level = level
        self.num_sims = num_sims
        self.agents = level.num_agents
        self.num_rows = num_sims * self.agents
        self.curriculum = curriculum
        self.episodes = [episode_offset + 1] * num_sims  # every slot has started one episode
        dtypes = {"obs": dtype_observations, "rewards": dtype_rewards, "dones": np.bool_, "actions": dtype_actions}
        self._shared = _Shared(self.num_rows, level.obs_tokens, dtypes)
        arrays = self._shared.arrays
        self.obs, self.step_rewards, self.actions = arrays["obs"], arrays["rewards"], arrays["actions"]
        self._dones = arrays["dones"]
        # the first episode's tasks, sampled in slot order as the in-process environment does
        tasks = [curriculum.sample() for _ in range(num_sims)] if curriculum is not None else None
        sizes = [num_sims // workers + (i < num_sims % workers) for i in range(workers)]
        self.firsts = [sum(sizes[:i]) for i in range(workers)]
        half = workers // 2
        self._groups = (
            [list(range(half)), list(range(half, workers))] if double_buffer and workers > 1 else [list(range(workers))]
        )
        # each group's rows, computed once (the step path reads them twice per step)
        self._parts = [
            slice(self.firsts[g[0]] * self.agents, (self.firsts[g[-1]] + sizes[g[-1]]) * self.agents)
            for g in self._groups
        ]
        self._owner = np.repeat(np.arange(workers), sizes)
        context = mp.get_context("spawn")  # never fork a process that holds torch's threads
        self._conns: list[Connection] = []
        self._procs: list[mp.process.BaseProcess] = []
        try:
            for first, count in zip(self.firsts, sizes, strict=True):
                options = {
                    "run_seed": run_seed,
                    "stagger": stagger,
                    "episode_offset": episode_offset,
                    "tasks": tasks[first : first + count] if tasks is not None else None,
                }
                ours, theirs = context.Pipe()
                args = (theirs, os.getpid(), level, first, count, num_sims, self.num_rows, dtypes)
                proc = context.Process(target=_worker, args=(*args, self._shared.names, options), daemon=True)
                proc.start()
                theirs.close()
                self._conns.append(ours)
                self._procs.append(proc)
            self.spec: ObsSpec = self._gather(timeout=START_TIMEOUT)[0]
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    @property
    def parts(self) -> list[slice]:
        """Row blocks that step independently: the workers in groups (2 with double buffering), so the trainer can
        run inference on one while the other steps."""
        return self._parts

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, list[EpisodeResult]]:
        """As `BatchedEnv.step` (restarting ended simulations): every part at once."""
        done, finished = np.zeros(self.num_rows, dtype=bool), []
        for g, rows in enumerate(self.parts):
            self.step_async(actions[rows], g)
        for g, rows in enumerate(self.parts):
            done[rows], ended = self.step_wait(g)
            finished += ended
        return done, finished

    def step_async(self, actions: np.ndarray, part: int = 0) -> None:
        """Send one part's actions (its rows' slice) to its workers; they step while the caller goes on."""
        self.actions[self._parts[part]] = actions
        for w in self._groups[part]:
            self._conns[w].send(("step", self.curriculum is None))  # else the curriculum picks the next tasks

    def step_wait(self, part: int = 0) -> tuple[np.ndarray, list[EpisodeResult]]:
        """That part's step: its rows' done flags and ended episodes, its restarted slots already restarted."""
        finished = [e for batch in self._gather(only=self._groups[part]) for e in batch]
        done = self._dones[self._parts[part]].copy()
        if finished and self.curriculum is not None:
            starts: dict[int, list[tuple[int, int]]] = {}
            for e in finished:  # slot order, as BatchedEnv: each ended episode updates, then its restart samples
                if not e.warmup:
                    self.curriculum.update(e.task, e.reward_per_agent)
                starts.setdefault(int(self._owner[e.slot]), []).append((e.slot, self.curriculum.sample()))
            for w, batch in starts.items():
                self._conns[w].send(("start", batch))
            self._gather(only=list(starts))
        for e in finished:
            self.episodes[e.slot] += 1
        return done, finished

    def _gather(self, only: list[int] | None = None, timeout: float | None = None) -> list:
        """Each worker's answer, in worker order; WorkerError if one died, raised or stayed silent past timeout."""
        answers = []
        for w in only if only is not None else range(len(self._conns)):
            conn, proc = self._conns[w], self._procs[w]
            waited = 0.0
            while not conn.poll(1.0):
                waited += 1.0
                if not proc.is_alive():
                    raise WorkerError(f"environment worker {w} (pid {proc.pid}) died: exit code {proc.exitcode}")
                if timeout is not None and waited >= timeout:
                    raise WorkerError(f"environment worker {w} (pid {proc.pid}) did not answer in {timeout:.0f} s")
            try:
                status, payload = conn.recv()
            except (EOFError, OSError):
                proc.join(1.0)
                raise WorkerError(f"environment worker {w} (pid {proc.pid}) died: exit code {proc.exitcode}") from None
            if status == "error":
                raise WorkerError(f"environment worker {w} failed:\n{payload}")
            answers.append(payload)
        return answers

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("close", None))
            except OSError:
                pass
        for proc in self._procs:
            proc.join(5.0)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []
        if self._shared.blocks:
            self._shared.close()


def make_env(
    level: LevelConfig,
    num_sims: int,
    workers: int,
    double_buffer: bool = False,
    **kwargs,
) -> BatchedEnv | WorkerEnv:
    """The in-process environment for 0 workers, else `workers` processes (at most one per simulation), in two
    parts that step while the trainer infers on the other with `double_buffer` (2 workers or more)."""
    if workers <= 0:
        return BatchedEnv(level, num_sims, **kwargs)
    return WorkerEnv(level, num_sims, min(workers, num_sims), double_buffer=double_buffer, **kwargs)


def default_workers(requested: int | None, threads: int | None, num_sims: int, cuda: bool) -> int:
    """`--env-workers` when given, else `auto_workers` from the job's threads (or this machine's cores)."""
    if requested is not None:
        return requested
    return auto_workers(threads or available_cpus(), num_sims, cuda)
