"""`--eval-where local`: train on the cloud, evaluate on the controller's machine (the reference did this to
save cloud cost: an evaluation needs no GPU).

Trainings go to the cloud backend as they would anyway. An evaluation first copies its checkpoint out of the
results bucket into the local run folder (the cloud's own storage tool, `benchmark.orchestration.bucket`), then
runs as a local subprocess with one thread; at most `local_slots` evaluations run here at once (a submit waits
for a slot). Random baselines need no checkpoint and run here too.

Handles: local ones are "local/<pid>:<start>", cloud ones are the cloud backend's own, so a restarted controller
routes re-attached jobs to the right side; `has_local_files(handle)` tells the scheduler which jobs it may read
heartbeats and outputs of directly.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.cpus import available_cpus
from benchmark.orchestration.backend import JobKind, JobSpec, JobStatus
from benchmark.orchestration.backends.local import LocalBackend
from benchmark.orchestration.backends.sky import SkyBackend
from benchmark.orchestration.backends.sky_tasks import remote_run_uri
from benchmark.orchestration.bucket import fetch_file
from benchmark.training.checkpoint import CHECKPOINT

LOCAL = "local/"

Fetch = Callable[[str, Path], Path]  # (bucket URI, local file) -> the file


class SplitBackend:
    name = "sky"  # the cloud's name: records of an earlier cloud-only session re-attach as they would there
    submit_rate = 1.0
    poll_interval = 1.0  # local jobs; the cloud is asked at most every `cloud.poll_interval` seconds

    def __init__(
        self,
        cloud: SkyBackend,
        local: LocalBackend,
        fetch: Fetch = fetch_file,
        local_slots: int | None = None,
    ):
        if cloud.options.storage is None:
            raise ValueError("--eval-where local needs --storage: the checkpoints must outlive the training node")
        self.cloud = cloud
        self.local = local
        self.fetch = fetch
        self.local_slots = local_slots or available_cpus()
        self._last_cloud_poll = -float("inf")

    @property
    def capacity(self) -> int | None:
        cloud = self.cloud.capacity
        return None if cloud is None else cloud + self.local_slots

    @property
    def options(self) -> Any:
        return self.cloud.options

    def ledger_config(self) -> dict[str, Any]:
        return {**self.cloud.ledger_config(), "eval_where": "local", "local_slots": self.local_slots}

    @staticmethod
    def has_local_files(handle: str) -> bool:
        return handle.startswith(LOCAL)

    # ---- the Backend protocol ----------------------------------------------------------------------------

    async def submit(self, spec: JobSpec) -> str:
        if spec.kind == JobKind.TRAIN:
            return await self.cloud.submit(spec)
        if spec.gpu:  # a policy's evaluation (a baseline's has no checkpoint to fetch)
            uri = f"{remote_run_uri(spec, self.cloud.options)}/{self._checkpoint_path(spec)}"
            await asyncio.to_thread(self.fetch, uri, spec.run_dir / CHECKPOINT)
        while len(self.local.live_handles()) >= self.local_slots:
            await self.local.poll(self.local.live_handles())  # notices the ones that ended
            await asyncio.sleep(0.25)
        return LOCAL + await self.local.submit(spec)

    async def poll(self, handles: list[str]) -> dict[str, JobStatus]:
        local = [h.removeprefix(LOCAL) for h in handles if h.startswith(LOCAL)]
        cloud = [h for h in handles if not h.startswith(LOCAL)]
        out = {LOCAL + h: s for h, s in (await self.local.poll(local)).items()} if local else {}
        now = time.monotonic()
        if cloud and now - self._last_cloud_poll >= self.cloud.poll_interval:
            self._last_cloud_poll = now
            out.update(await self.cloud.poll(cloud))
        return out

    async def cancel(self, handles: list[str]) -> None:
        local = [h.removeprefix(LOCAL) for h in handles if h.startswith(LOCAL)]
        cloud = [h for h in handles if not h.startswith(LOCAL)]
        if local:
            await self.local.cancel(local)
        if cloud:
            await self.cloud.cancel(cloud)

    async def fetch_logs(self, handle: str, dest: Path) -> Path | None:
        if handle.startswith(LOCAL):
            return await self.local.fetch_logs(handle.removeprefix(LOCAL), dest)
        return await self.cloud.fetch_logs(handle, dest)

    async def close(self) -> None:
        await self.local.close()
        await self.cloud.close()

    def _checkpoint_path(self, spec: JobSpec) -> str:
        """The checkpoint's path inside the run's bucket folder: an interim evaluation's run folder is the
        snapshot's (`<run>/at<p>`), whose spec carries the run's id."""
        name = spec.run_dir.name
        return f"{name}/{CHECKPOINT}" if re.fullmatch(r"at\d+", name) else CHECKPOINT
