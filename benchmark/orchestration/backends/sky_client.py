"""Every SkyPilot SDK call archbench makes (`SkyClient`), and the small vocabulary of records and exceptions
it speaks to the backend (backends/sky.py), so that module holds only the scheduling logic and tests replace
this one class with a fake that replays statuses."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.orchestration.backends import BackendUnavailable

if TYPE_CHECKING:
    import sky

NO_CLOUD_MESSAGE = "No cloud is enabled for SkyPilot: run `sky check` (and see README 'Running on the cloud')"
NO_STORAGE_MESSAGE = (
    "No cloud storage is enabled for SkyPilot (the --storage bucket needs one): run `sky check` "
    "(and see README 'Running on the cloud')"
)
_NO_STORAGE = "no cloud storage is available"  # SkyPilot's NotSupportedError when a bucket mount has no cloud

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ControllerNotUp(Exception):
    """SkyPilot's jobs controller, or the named cluster, exists but is not UP (SkyPilot ClusterNotUpError)."""


class ClusterMissing(Exception):
    """The named cluster does not exist (SkyPilot ClusterDoesNotExist)."""


@dataclass(frozen=True)
class SkyJobRecord:
    """One row of a SkyPilot job queue, reduced to what the backend reads."""

    job_id: int
    status: str  # SkyPilot's status name: "RUNNING", "FAILED_NO_RESOURCE", ...
    name: str = ""
    detail: str = ""  # SkyPilot's failure reason, when it gives one


def _one_line(text: object, limit: int = 300) -> str:
    line = " ".join(_ANSI.sub("", str(text)).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _field(record: Any, key: str) -> Any:
    """Read a queue record field; SkyPilot returns dict-like pydantic models (older servers: dicts)."""
    return record.get(key) if isinstance(record, Mapping) else getattr(record, key, None)


def _status_name(status: Any) -> str:
    return str(getattr(status, "value", status))


def _find_log(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    runs = sorted(root.rglob("run.log"))
    return runs or sorted(p for p in root.rglob("*.log") if p.is_file())


class SkyClient:
    """Every SkyPilot SDK call archbench makes; methods block, so call them from a thread.

    SkyPilot's exceptions are translated here: no enabled cloud (or cloud storage for a bucket mount) or no API
    server -> BackendUnavailable (one line for the user); a controller or cluster that is not up ->
    ControllerNotUp; a missing cluster -> ClusterMissing. Log streaming is never used: concurrent streamed
    launches crash SkyPilot's spinner.
    """

    # --- managed jobs

    def launch(self, task: sky.Task, name: str) -> int:
        import sky

        with self.translated():
            job_ids, _ = sky.get(sky.jobs.launch(task, name=name))
        if not job_ids:
            raise RuntimeError(f"SkyPilot returned no job id for managed job {name!r}")
        return int(job_ids[0])

    def queue(self, job_ids: list[int] | None, refresh: bool = False, name: str | None = None) -> list[SkyJobRecord]:
        """One `sky.jobs.queue_v2` request for these ids (or for active jobs whose name contains `name`)."""
        import sky

        fields = ["job_id", "task_id", "job_name", "status", "failure_reason"]
        with self.translated():
            records, *_ = sky.get(
                sky.jobs.queue_v2(
                    refresh=refresh,
                    job_ids=job_ids,
                    fields=fields,
                    skip_finished=name is not None,
                    name_match=name,
                )
            )
        return [
            SkyJobRecord(
                job_id=int(_field(r, "job_id")),
                status=_status_name(_field(r, "status")),
                name=str(_field(r, "job_name") or ""),
                detail=_one_line(_field(r, "failure_reason") or ""),
            )
            for r in records
        ]

    def cancel(self, job_ids: list[int]) -> None:
        import sky

        with self.translated():
            sky.get(sky.jobs.cancel(job_ids=job_ids))

    def download_logs(self, job_id: int, local_dir: Path) -> list[Path]:
        import sky

        with self.translated():
            paths = sky.jobs.download_logs(
                name=None, job_id=job_id, refresh=False, controller=False, local_dir=str(local_dir)
            )
        return [log for path in paths.values() for log in _find_log(Path(path).expanduser())]

    # --- one shared cluster

    def launch_cluster(self, task: sky.Task, cluster: str, idle_minutes_to_autostop: int | None) -> None:
        import sky

        with self.translated():
            sky.get(sky.launch(task, cluster_name=cluster, idle_minutes_to_autostop=idle_minutes_to_autostop))

    def exec(self, task: sky.Task, cluster: str) -> int:
        import sky

        with self.translated():
            job_id, _ = sky.get(sky.exec(task, cluster_name=cluster))
        if job_id is None:
            raise RuntimeError(f"SkyPilot returned no job id for a job on cluster {cluster!r}")
        return int(job_id)

    def queue_cluster(self, cluster: str) -> list[SkyJobRecord]:
        import sky

        with self.translated():
            records = sky.get(sky.queue(cluster, skip_finished=False))
        return [
            SkyJobRecord(
                job_id=int(_field(r, "job_id")),
                status=_status_name(_field(r, "status")),
                name=str(_field(r, "job_name") or ""),
            )
            for r in records
        ]

    def cancel_cluster(self, cluster: str, job_ids: list[int]) -> None:
        import sky

        with self.translated():
            sky.get(sky.cancel(cluster, job_ids=job_ids))

    def download_cluster_logs(self, cluster: str, job_id: int, local_dir: Path) -> list[Path]:
        """SkyPilot picks the folder for cluster logs (~/sky_logs); local_dir is kept for symmetry."""
        import sky

        with self.translated():
            paths = sky.download_logs(cluster, [str(job_id)])
        return [log for path in paths.values() for log in _find_log(Path(path).expanduser())]

    # --- errors

    @staticmethod
    @contextlib.contextmanager
    def translated() -> Iterator[None]:
        """Turn SkyPilot's exceptions into the backend's small vocabulary (see the class docstring)."""
        from sky import exceptions

        try:
            yield
        except exceptions.NoCloudAccessError:
            raise BackendUnavailable(NO_CLOUD_MESSAGE) from None
        except exceptions.NotSupportedError as err:
            if _NO_STORAGE in str(err):  # a managed job mounting a bucket, and no cloud enabled
                raise BackendUnavailable(NO_STORAGE_MESSAGE) from None
            raise
        except exceptions.ApiServerConnectionError as err:
            raise BackendUnavailable(f"SkyPilot API server unreachable: {_one_line(err)}") from None
        except exceptions.ClusterDoesNotExist as err:
            raise ClusterMissing(_one_line(err)) from None
        except exceptions.ClusterNotUpError as err:
            raise ControllerNotUp(_one_line(err)) from None
