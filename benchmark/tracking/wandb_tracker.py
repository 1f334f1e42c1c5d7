"""A small W&B wrapper for the trainer and the evaluator, and a reader for offline W&B logs.

Why a wrapper: the job code calls log/summary/finish without caring whether W&B is online, offline (no key,
no network: logs land in the run folder for `wandb sync` later) or disabled; W&B is imported only when used;
run ids are stable, so a recovered job appends to the same W&B run instead of starting a new one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

if TYPE_CHECKING:
    import wandb

Mode = Literal["online", "offline", "disabled"]
JobType = Literal["train", "eval"]

_MAX_ID_LEN = 64  # conservative; W&B ids appear in URLs and folder names


def wandb_run_id(run_id: str, job_type: str) -> str:
    """Stable W&B id `<run_id>-<job_type>` in W&B's safe charset; a short hash keeps changed ids distinct."""
    raw = f"{run_id}-{job_type}"
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-.") or "run"
    if cleaned != raw or len(cleaned) > _MAX_ID_LEN:
        digest = hashlib.sha1(raw.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[: _MAX_ID_LEN - 9].rstrip('-.')}-{digest}"
    return cleaned


class NullTracker:
    """Same methods as Tracker, doing nothing: used when W&B is disabled."""

    mode: Mode = "disabled"

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        pass

    def summary(self, values: Mapping[str, Any]) -> None:
        pass

    def finish(self, exit_code: int = 0) -> None:
        pass

    def location(self) -> str | None:
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)


class Tracker(NullTracker):
    """One W&B run of one job (train or eval). Never reads, prints or stores the API key: wandb does."""

    def __init__(self, run: wandb.Run, mode: Mode, location: str | None) -> None:
        self._run = run
        self.mode = mode
        self._location = location
        self._finished = False

    @classmethod
    def start(
        cls,
        *,
        project: str,
        group: str,
        job_type: JobType,
        run_id: str,
        name: str,
        config: Mapping[str, Any],
        tags: Sequence[str],
        mode: Mode,
        dir: Path,
    ) -> Tracker | NullTracker:
        """Open the W&B run of job `run_id`/`job_type`; `group` is the experiment id, `dir` the run folder.

        `mode` is passed explicitly because W&B ignores a WANDB_MODE change after a first init in a process.
        `resume="allow"` makes a recovered job continue its online run; offline W&B ignores resume and
        warns, so it is not passed there.
        """
        if mode == "disabled":
            return NullTracker()
        import wandb

        dir = Path(dir)
        dir.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project=project,
            group=group,
            job_type=job_type,
            id=wandb_run_id(run_id, job_type),
            name=name,
            config=dict(config),
            tags=[str(tag) for tag in tags],
            mode=mode,
            dir=str(dir),
            resume="allow" if mode == "online" else None,
            settings=wandb.Settings(silent=True, console="off"),
        )
        # Online: the run page. Offline: the folder `wandb sync` takes (reading run.url offline only warns).
        location = run.url if mode == "online" else str(Path(run.dir).parent)
        return cls(run, mode, location)

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        self._run.log(dict(metrics), step=step)

    def summary(self, values: Mapping[str, Any]) -> None:
        self._run.summary.update(dict(values))

    def finish(self, exit_code: int = 0) -> None:
        if not self._finished:
            self._finished = True
            self._run.finish(exit_code=exit_code)

    def location(self) -> str | None:
        """The run URL (online) or the offline run folder: what the ledger records for this job."""
        return self._location


def _item_key(item: Any) -> str:
    return ".".join(item.nested_key) if item.nested_key else item.key


def offline_run_files(run_dir: Path) -> list[Path]:
    """Every `run-<id>.wandb` log under a run folder (a resumed job has one per start), oldest first."""
    run_dir = Path(run_dir)
    if run_dir.is_file():
        return [run_dir]
    return sorted(run_dir.rglob("run-*.wandb"), key=lambda p: p.parent.name)


def read_offline_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Config and history rows logged offline under run_dir, read with wandb's own log reader.

    Reads `wandb/offline-run-*/run-<id>.wandb` (a leveldb-style log of protobuf Records) the way `wandb sync`
    does: `wandb.sdk.internal.datastore.DataStore` and `wandb.proto.wandb_internal_pb2.Record`.
    History rows keep W&B's own keys (`_step`, `_runtime`, `_timestamp`) next to the logged metrics; a file
    still being written is read up to its last complete record.
    """
    from wandb.proto import wandb_internal_pb2
    from wandb.sdk.internal import datastore

    files = offline_run_files(run_dir)
    if not files:
        raise FileNotFoundError(f"no offline W&B log (run-*.wandb) under {run_dir}")
    config: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    for path in files:
        store = datastore.DataStore()
        store.open_for_scan(str(path))
        try:
            while True:
                try:
                    data = store.scan_data()
                except AssertionError:  # a truncated last record: the run is still writing, or died
                    break
                if data is None:
                    break
                record = wandb_internal_pb2.Record()
                record.ParseFromString(data)
                kind = record.WhichOneof("record_type")
                if kind == "run":
                    for item in record.run.config.update:
                        config[_item_key(item)] = json.loads(item.value_json)
                elif kind == "config":
                    for item in record.config.update:
                        config[_item_key(item)] = json.loads(item.value_json)
                    for item in record.config.remove:
                        config.pop(_item_key(item), None)
                elif kind == "history":
                    row = {_item_key(item): json.loads(item.value_json) for item in record.history.item}
                    history.append(row)
        finally:
            store.close()
    config.pop("_wandb", None)
    return config, history
