"""SkyPilot backend: managed jobs (default) or one shared cluster, behind the Backend contract.

Every SkyPilot call lives in `SkyClient` (backends/sky_client.py), whose methods block and speak a small
vocabulary of records and exceptions; `SkyBackend` runs them in threads and maps SkyPilot's statuses onto
`BackendState`. Tests drive `SkyBackend` with a fake client that replays statuses, so the mapping is checked
without a cloud.

Handles: a managed job is its SkyPilot job id ("42"); a cluster job is "<cluster>:<job id>".
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.orchestration.backend import BackendState, JobSpec, JobStatus
from benchmark.orchestration.backends.sky_client import ClusterMissing, ControllerNotUp, SkyClient, SkyJobRecord
from benchmark.orchestration.backends.sky_options import SkyOptions
from benchmark.orchestration.backends.sky_tasks import (
    build_cluster_config,
    build_task_config,
    launch_secrets,
    to_sky_task,
)

if TYPE_CHECKING:
    pass

# SkyPilot managed-job statuses (sky.jobs.ManagedJobStatus, 0.14.1) -> what the scheduler needs to know.
MANAGED_STATES: dict[str, BackendState] = {
    "PENDING": BackendState.QUEUED,
    "SUBMITTED": BackendState.QUEUED,  # legacy name, still in old controller databases
    "STARTING": BackendState.QUEUED,
    "RECOVERING": BackendState.QUEUED,  # preempted; SkyPilot relaunches it (JobStatus.recovering=True)
    "RUNNING": BackendState.RUNNING,
    "WINDING_DOWN": BackendState.RUNNING,
    "SUCCEEDED": BackendState.SUCCEEDED,
    "CANCELLING": BackendState.CANCELLED,  # cancel requested; the job will not produce results
    "CANCELLED": BackendState.CANCELLED,
    "FAILED": BackendState.FAILED,
    "FAILED_SETUP": BackendState.FAILED,
    "FAILED_PRECHECKS": BackendState.FAILED,
    "FAILED_NO_RESOURCE": BackendState.FAILED,
    "FAILED_CONTROLLER": BackendState.FAILED,
}
# SkyPilot cluster job statuses (sky.skylet.job_lib.JobStatus, 0.14.1).
CLUSTER_STATES: dict[str, BackendState] = {
    "INIT": BackendState.QUEUED,
    "PENDING": BackendState.QUEUED,
    "SETTING_UP": BackendState.QUEUED,
    "RUNNING": BackendState.RUNNING,
    "SUCCEEDED": BackendState.SUCCEEDED,
    "CANCELLED": BackendState.CANCELLED,
    "FAILED": BackendState.FAILED,
    "FAILED_SETUP": BackendState.FAILED,
    "FAILED_DRIVER": BackendState.FAILED,
}
_ACTIVE = frozenset({BackendState.QUEUED, BackendState.RUNNING})


def _job_status(record: SkyJobRecord | None, states: Mapping[str, BackendState], what: str) -> JobStatus:
    if record is None:
        return JobStatus(BackendState.LOST, detail=f"SkyPilot has no {what}")
    state = states.get(record.status)
    if state is None:  # a status newer than this table
        state = BackendState.FAILED if record.status.startswith("FAILED") else BackendState.QUEUED
    detail = record.status if not record.detail else f"{record.status}: {record.detail}"
    return JobStatus(state, detail=detail, recovering=record.status == "RECOVERING")


class SkyBackend:
    """Backend running each archbench job as a SkyPilot managed job, or as a job on one shared cluster.

    Run folders live on the bucket, not here (`local_files = False`): the scheduler then downloads each job's
    log when it ends and takes its result from the log's ARCHBENCH_RESULT line (benchmark.orchestration.outputs),
    and applies no heartbeat stall check (SkyPilot's job_recovery and max_restarts_on_errors handle dead nodes).
    """

    name = "sky"
    poll_interval = 10.0  # seconds between status queries: one queue request per poll for all jobs
    submit_rate = 1.0  # launches per second at most (each is an API request that uploads the task)
    local_files = False

    def __init__(
        self,
        options: SkyOptions,
        client: SkyClient | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options
        self.client = client if client is not None else SkyClient()
        self._environ = environ  # where launch secrets come from; None: os.environ at launch time
        self._cluster_lock = asyncio.Lock()
        self._cluster_ready = False

    @property
    def capacity(self) -> int | None:
        """Cluster mode: jobs that fit on the cluster at once (its GPU slots); managed jobs: no fixed limit."""
        if self.options.cluster is None:
            return None
        return max(1, self.options.nodes * self.options.node_gpus // self.options.gpus)

    def ledger_config(self) -> dict[str, Any]:
        """What the ledger records about this backend (no secret is part of the options)."""
        return {"name": self.name, "mode": self.options.mode, **self.options.model_dump(mode="json")}

    # --- Backend contract

    async def submit(self, spec: JobSpec) -> str:
        """Launch, unless SkyPilot already runs a job of this name (a launch the ledger never recorded)."""
        cfg = build_task_config(spec, self.options)  # refuses bad options before anything is launched
        secrets = launch_secrets(self.options, self._environ)
        name = cfg["name"]
        if self.options.cluster is None:
            existing = await self._active_managed(name)
            if existing is not None:
                return str(existing)
            task = await asyncio.to_thread(to_sky_task, cfg, secrets)
            job_id = await asyncio.to_thread(self.client.launch, task, name)
            return str(job_id)
        cluster = self.options.cluster
        await self.ensure_cluster()
        records = await asyncio.to_thread(self.client.queue_cluster, cluster)
        for record in records:
            if record.name == name and CLUSTER_STATES.get(record.status) in _ACTIVE:
                return f"{cluster}:{record.job_id}"
        task = await asyncio.to_thread(to_sky_task, cfg, secrets)
        job_id = await asyncio.to_thread(self.client.exec, task, cluster)
        return f"{cluster}:{job_id}"

    async def poll(self, handles: list[str]) -> dict[str, JobStatus]:
        """One managed-jobs queue request for all managed handles, one queue request per cluster."""
        out: dict[str, JobStatus] = {}
        managed: dict[str, int] = {}
        by_cluster: dict[str, dict[str, int]] = {}
        for handle in handles:
            parsed = self._parse(handle)
            if parsed is None:
                out[handle] = JobStatus(BackendState.LOST, detail=f"not a SkyPilot handle: {handle!r}")
            elif parsed[0] is None:
                managed[handle] = parsed[1]
            else:
                by_cluster.setdefault(parsed[0], {})[handle] = parsed[1]
        if managed:
            out.update(await self._poll_managed(managed))
        for cluster, jobs in by_cluster.items():
            out.update(await self._poll_cluster(cluster, jobs))
        return out

    async def cancel(self, handles: list[str]) -> None:
        managed: list[int] = []
        by_cluster: dict[str, list[int]] = {}
        for handle in handles:
            parsed = self._parse(handle)
            if parsed is None:
                continue
            if parsed[0] is None:
                managed.append(parsed[1])
            else:
                by_cluster.setdefault(parsed[0], []).append(parsed[1])
        with contextlib.suppress(ControllerNotUp, ClusterMissing):  # nothing is running there
            if managed:
                await asyncio.to_thread(self.client.cancel, managed)
        for cluster, job_ids in by_cluster.items():
            with contextlib.suppress(ControllerNotUp, ClusterMissing):
                await asyncio.to_thread(self.client.cancel_cluster, cluster, job_ids)

    async def fetch_logs(self, handle: str, dest: Path) -> Path | None:
        """Append the job's log, downloaded from SkyPilot, to dest (after a header line); None when SkyPilot no
        longer has it."""
        parsed = self._parse(handle)
        if parsed is None:
            return None
        cluster, job_id = parsed
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="sky-logs-", dir=dest.parent) as tmp:
            try:
                if cluster is None:
                    logs = await asyncio.to_thread(self.client.download_logs, job_id, Path(tmp))
                else:
                    logs = await asyncio.to_thread(self.client.download_cluster_logs, cluster, job_id, Path(tmp))
            except (ControllerNotUp, ClusterMissing):
                return None
            if not logs:
                return None
            with dest.open("ab") as out:  # every attempt appends, as local jobs do
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                out.write(f"==== {stamp} SkyPilot job {handle}: log downloaded after it ended\n".encode())
                for log in logs:
                    with log.open("rb") as src:
                        shutil.copyfileobj(src, out)
        return dest

    async def close(self) -> None:
        """Nothing to release: jobs keep running in SkyPilot; a shared cluster autostops when idle."""

    # --- cluster mode

    async def ensure_cluster(self) -> None:
        """Launch the shared cluster once per backend: `sky.launch` provisions it if needed, else re-syncs the
        code and re-runs setup, so jobs never run code older than this controller's."""
        cluster = self.options.cluster
        if cluster is None:
            raise ValueError("ensure_cluster needs SkyOptions.cluster")
        async with self._cluster_lock:
            if self._cluster_ready:
                return
            task = await asyncio.to_thread(to_sky_task, build_cluster_config(self.options))
            autostop = self.options.idle_minutes_to_autostop
            await asyncio.to_thread(self.client.launch_cluster, task, cluster, autostop)
            self._cluster_ready = True

    # --- helpers

    @staticmethod
    def _parse(handle: str) -> tuple[str | None, int] | None:
        """(None, id) for a managed job, (cluster, id) for a cluster job, None for anything else."""
        cluster, sep, job = handle.rpartition(":")
        if not job.isdigit() or (sep and not cluster):
            return None
        return (cluster if sep else None), int(job)

    async def _active_managed(self, name: str) -> int | None:
        try:
            records = await asyncio.to_thread(self.client.queue, None, False, name)
        except ControllerNotUp:  # no controller yet: nothing was ever launched
            return None
        for record in records:
            if record.name == name and MANAGED_STATES.get(record.status) in _ACTIVE:
                return record.job_id
        return None

    async def _poll_managed(self, jobs: dict[str, int]) -> dict[str, JobStatus]:
        ids = sorted(set(jobs.values()))
        try:
            records = await asyncio.to_thread(self.client.queue, ids, False)
        except ControllerNotUp:
            # The controller stopped (autostop) while we held live handles: restart it to learn their end.
            try:
                records = await asyncio.to_thread(self.client.queue, ids, True)
            except (ControllerNotUp, ClusterMissing) as err:
                lost = JobStatus(BackendState.LOST, detail=f"jobs controller unavailable: {err}")
                return {handle: lost for handle in jobs}
        by_id: dict[int, SkyJobRecord] = {}
        for record in records:
            by_id.setdefault(record.job_id, record)  # single-task jobs: one row each
        return {
            handle: _job_status(by_id.get(job_id), MANAGED_STATES, f"managed job {job_id}")
            for handle, job_id in jobs.items()
        }

    async def _poll_cluster(self, cluster: str, jobs: dict[str, int]) -> dict[str, JobStatus]:
        try:
            records = await asyncio.to_thread(self.client.queue_cluster, cluster)
        except (ControllerNotUp, ClusterMissing) as err:
            # A stopped or deleted cluster killed its jobs; they will not finish.
            lost = JobStatus(BackendState.LOST, detail=f"cluster {cluster} unavailable: {err}")
            return {handle: lost for handle in jobs}
        by_id = {record.job_id: record for record in records}
        return {
            handle: _job_status(by_id.get(job_id), CLUSTER_STATES, f"job {job_id} on cluster {cluster}")
            for handle, job_id in jobs.items()
        }
