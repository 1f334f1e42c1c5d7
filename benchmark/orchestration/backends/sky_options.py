"""How archbench jobs run on SkyPilot: one pydantic model of the cloud options, validated once when the controller
starts (never at launch), without importing sky."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from benchmark.orchestration.backends.sky_names import validate_accelerator

# SkyPilot's own rule (sky/skylet/constants.py `CLUSTER_NAME_VALID_REGEX`)
SKY_CLUSTER_NAME_RE = re.compile(r"[a-zA-Z]([-_.a-zA-Z0-9]*[a-zA-Z0-9])?")
_STORAGE_RE = re.compile(
    r"(?:(?:s3|gs|r2|cos|oci)://[A-Za-z0-9][A-Za-z0-9._@-]*|https://[a-z0-9]+\.blob\.core\.windows\.net/[a-z0-9-]+)"
    r"(?:/[A-Za-z0-9._/=-]*)?"
)


class SkyOptions(BaseModel):
    """How archbench jobs run on SkyPilot. Validated once when the controller starts, never at launch."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    gpus: int = Field(1, ge=1, description="GPUs per job.")
    accelerator: str = Field("L4", description="GPU type, one of KNOWN_ACCELERATORS.")
    infra: str | None = Field(
        None,
        validation_alias=AliasChoices("infra", "cloud"),
        description="Where to run, in SkyPilot infra syntax ('aws', 'gcp/us-central1'); None: any enabled.",
    )
    use_spot: bool = Field(False, description="Spot instances; managed jobs recover from preemption.")
    storage: str | None = Field(
        None,
        description="Bucket URI for run folders (s3://b/p, gs://b/p); without it outputs die with the node.",
    )
    storage_mode: Literal["MOUNT", "MOUNT_CACHED"] = Field(
        "MOUNT", description="How the bucket is mounted; MOUNT_CACHED writes locally first, then uploads."
    )
    cluster: str | None = Field(None, description="Cluster name: run every job on this one shared cluster.")
    nodes: int = Field(1, ge=1, description="Cluster mode: number of nodes.")
    gpus_per_node: int | None = Field(None, ge=1, description="Cluster mode: GPUs per node (default: gpus).")
    idle_minutes_to_autostop: int | None = Field(
        30, ge=1, description="Cluster mode: stop the cluster after this many idle minutes; None: never."
    )
    max_restarts_on_errors: int = Field(3, ge=0, description="Managed jobs: restarts after a code failure.")
    git_commit: str | None = Field(None, description="Install this commit of repo_url on the node.")
    repo_url: str | None = Field(None, description="Git URL to install from; None: sync the local workdir.")
    workdir: Path | None = Field(None, description="Checkout to sync when no repo_url (default: this one).")
    torch_index_url: str = Field(
        "https://download.pytorch.org/whl/cu128", description="Wheel index of the CUDA torch build for nodes."
    )
    wandb_mode: Literal["online", "offline", "disabled"] = Field(
        "offline", description="W&B mode on the node; online needs WANDB_API_KEY in the controller's env."
    )
    wandb_project: str = Field("archbench", min_length=1, description="W&B project.")

    @field_validator("accelerator")
    @classmethod
    def _known_accelerator(cls, value: str) -> str:
        return validate_accelerator(value)

    @field_validator("infra")
    @classmethod
    def _infra_syntax(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not re.fullmatch(r"[A-Za-z0-9*][A-Za-z0-9*._/:-]*", value):
            raise ValueError(f"infra {value!r} is not SkyPilot infra syntax (e.g. 'aws', 'gcp/us-central1')")
        return value

    @field_validator("storage")
    @classmethod
    def _storage_uri(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not _STORAGE_RE.fullmatch(value):
            raise ValueError(
                f"storage {value!r} is not a bucket URI (s3://, gs://, r2://, cos://, oci:// "
                "or https://<account>.blob.core.windows.net/<container>)"
            )
        return value

    @field_validator("cluster")
    @classmethod
    def _cluster_name(cls, value: str | None) -> str | None:
        if value is not None and not SKY_CLUSTER_NAME_RE.fullmatch(value):
            raise ValueError(f"cluster name {value!r} must match {SKY_CLUSTER_NAME_RE.pattern}")
        return value

    @field_validator("git_commit")
    @classmethod
    def _commit_sha(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9a-f]{7,40}", value):
            raise ValueError(f"git_commit {value!r} must be a hex commit id (7 to 40 characters)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SkyOptions:
        if (self.repo_url is None) != (self.git_commit is None):
            raise ValueError("repo_url and git_commit go together: an unpinned repo is not reproducible")
        if self.cluster is None and (self.nodes != 1 or self.gpus_per_node is not None):
            raise ValueError("nodes and gpus_per_node only apply in cluster mode (set cluster)")
        if self.cluster is not None and self.gpus > self.node_gpus:
            raise ValueError(f"gpus={self.gpus} per job exceeds gpus_per_node={self.node_gpus}")
        return self

    @property
    def mode(self) -> Literal["managed", "cluster"]:
        return "managed" if self.cluster is None else "cluster"

    @property
    def node_gpus(self) -> int:
        return self.gpus_per_node if self.gpus_per_node is not None else self.gpus

    def summary(self) -> str:
        """One line for the user: where jobs run, on what, and where their files and code come from."""
        where = self.infra or "any enabled cloud"
        if self.mode == "managed":
            mode = f"one managed job per job ({self.accelerator}:{self.gpus}{', spot' if self.use_spot else ''})"
        else:
            mode = (
                f"cluster {self.cluster}: {self.nodes} x {self.accelerator}:{self.node_gpus}"
                f"{' spot' if self.use_spot else ''}, {self.gpus} GPU(s) per job"
            )
        code = f"git {self.repo_url}@{self.git_commit[:12]}" if self.repo_url and self.git_commit else "working tree"
        files = self.storage or "the node's disk (no bucket)"
        return f"{mode} on {where}; run folders on {files}; code: {code}; W&B {self.wandb_mode}"
