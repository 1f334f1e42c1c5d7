"""A fake SkyPilot cloud for controller tests: managed jobs that replay scripted statuses, behind the real SkyBackend.

`FakeCloud` is SkyPilot's side (the jobs controller): it outlives a controller, so a second controller can find
the jobs the first one launched. `ReplaySkyClient` is the real `SkyClient` with every SDK call answered by the
cloud instead: the real SkyBackend (status mapping, adoption, log download) and the real scheduler run on top.

Time in the fake cloud is counted in status queries: each queue request moves every job it asks about one step
along its script; the last status repeats for ever. A job that ends SUCCEEDED has a log ending with the
ARCHBENCH_RESULT line the real CLI prints on a node (made-up figures from benchmark.orchestration.backends.fake).
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.orchestration.backends.fake import fake_result
from benchmark.orchestration.backends.sky import MANAGED_STATES
from benchmark.orchestration.backends.sky_client import SkyClient, SkyJobRecord
from benchmark.orchestration.outputs import result_line

Step = str | tuple[str, str]  # a SkyPilot status, or (status, failure reason)
DEFAULT_SCRIPT: tuple[Step, ...] = ("PENDING", "STARTING", "RUNNING", "SUCCEEDED")
LIVE = {"QUEUED", "RUNNING"}


class ControllerKilled(SystemExit):
    """Raised inside the controller by the fake cloud: the controller dies on the spot, as with SIGKILL.

    A SystemExit leaves asyncio's event loop at once (it is not caught as an Exception by the poll loop), so
    no job is cancelled in the cloud and the session stays "running" in the ledger."""


@dataclass
class CloudJob:
    job_id: int
    name: str
    argv: list[str]  # the archbench command line of the task's run script
    script: list[Step]
    position: int = -1
    cancelled: bool = False

    @property
    def status(self) -> str:
        if self.cancelled:
            return "CANCELLED"
        step = self.script[max(self.position, 0)]
        return step if isinstance(step, str) else step[0]

    @property
    def detail(self) -> str:
        step = self.script[max(self.position, 0)]
        return "" if isinstance(step, str) or self.cancelled else step[1]


@dataclass
class FakeCloud:
    """scripts: job-id suffix -> one status script per launch of a matching job (the last one is reused)."""

    scripts: dict[str, Sequence[Sequence[Step]]] = field(default_factory=dict)
    jobs: dict[int, CloudJob] = field(default_factory=dict)
    launches: list[str] = field(default_factory=list)  # job names, one per launch
    queue_calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)  # the backend calls the client from threads

    def script_for(self, name: str) -> list[Step]:
        nth = self.launches.count(name)  # launches of this job before this one
        for suffix, per_launch in self.scripts.items():
            if name.endswith(suffix):
                return list(per_launch[min(nth, len(per_launch) - 1)])
        return list(DEFAULT_SCRIPT)

    def launch(self, task: Any, name: str) -> int:
        with self.lock:
            run_line = next(line for line in task.run.splitlines() if line.startswith("exec archbench "))
            job = CloudJob(len(self.jobs) + 1, name, shlex.split(run_line)[2:], self.script_for(name))
            self.jobs[job.job_id] = job
            self.launches.append(name)
            return job.job_id

    def running(self) -> list[CloudJob]:
        return [j for j in self.jobs.values() if j.status == "RUNNING"]

    def live(self, name: str) -> list[CloudJob]:
        return [j for j in self.jobs.values() if j.name == name and MANAGED_STATES[j.status].name in LIVE]

    def log(self, job: CloudJob) -> str:
        text = f"setup done\nrunning archbench {shlex.join(job.argv)}\nworking\n"
        if job.status == "SUCCEEDED":
            kind, data = fake_result(job.argv)
            text += f"(task, pid=4242) {result_line(kind, data)}\n"  # as SkyPilot may prefix a job's lines
        elif job.status.startswith("FAILED"):
            text += f"{job.status}: {job.detail}\n"
        return text


class ReplaySkyClient(SkyClient):
    """The SkyClient the real SkyBackend calls, answered by a FakeCloud.

    launch_error: raised (inside SkyClient.translated(), as a real SkyPilot error would be) by every launch.
    kill_when: checked after each status query; when true, the controller dies (ControllerKilled)."""

    def __init__(
        self,
        cloud: FakeCloud,
        launch_error: Callable[[], Exception] | None = None,
        kill_when: Callable[[FakeCloud], bool] | None = None,
    ):
        self.cloud = cloud
        self.launch_error = launch_error
        self.kill_when = kill_when
        self.launch_attempts: list[str] = []
        self.downloads: list[int] = []

    def launch(self, task: Any, name: str) -> int:
        self.launch_attempts.append(name)
        if self.launch_error is not None:
            with self.translated():
                raise self.launch_error()
        return self.cloud.launch(task, name)

    def queue(self, job_ids: list[int] | None, refresh: bool = False, name: str | None = None) -> list[SkyJobRecord]:
        cloud = self.cloud
        with cloud.lock:
            cloud.queue_calls += 1
            if name is not None:  # the adoption lookup before a launch: no time passes
                jobs = [j for j in cloud.live(name)]
            else:
                jobs = [cloud.jobs[i] for i in job_ids or [] if i in cloud.jobs]
                for job in jobs:
                    job.position = min(job.position + 1, len(job.script) - 1)
            records = [SkyJobRecord(j.job_id, j.status, j.name, j.detail) for j in jobs]
        if self.kill_when is not None and self.kill_when(cloud):
            raise ControllerKilled("the controller was killed")
        return records

    def cancel(self, job_ids: list[int]) -> None:
        with self.cloud.lock:
            for job_id in job_ids:
                job = self.cloud.jobs.get(job_id)
                if job is not None and MANAGED_STATES[job.status].name in LIVE:
                    job.cancelled = True

    def download_logs(self, job_id: int, local_dir: Path) -> list[Path]:
        self.downloads.append(job_id)
        log = local_dir / f"managed-{job_id}" / "run.log"
        log.parent.mkdir(parents=True)
        log.write_text(self.cloud.log(self.cloud.jobs[job_id]))
        return [log]

    def launch_cluster(self, task: Any, cluster: str, idle_minutes_to_autostop: int | None) -> None:
        raise AssertionError("cluster mode is not replayed here")

    def exec(self, task: Any, cluster: str) -> int:
        raise AssertionError("cluster mode is not replayed here")

    def queue_cluster(self, cluster: str) -> list[SkyJobRecord]:
        raise AssertionError("cluster mode is not replayed here")
