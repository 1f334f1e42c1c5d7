"""The names SkyPilot knows, checked before anything launches: GPU types and clouds. No sky import (the
controller's option parsing uses these), only the names, copied from SkyPilot 0.14.1."""

from __future__ import annotations

import difflib

# GPU names SkyPilot 0.14.1 knows (its `sky.catalog.get_common_gpus()` plus H100-MEGA and L40), spelled as in
# its catalog. SkyPilot itself accepts any name (`Z999:1` validates and only fails at launch, after minutes of
# provisioning attempts), so we refuse unknown names up front. Extend this tuple, and the test catalog
# fixture, when a new GPU is needed.
KNOWN_ACCELERATORS: tuple[str, ...] = (
    "A10",
    "A10G",
    "A100",
    "A100-80GB",
    "B200",
    "H100",
    "H100-MEGA",
    "H200",
    "L4",
    "L40",
    "L40S",
    "RTX5090",
    "RTXPRO6000",
    "T4",
    "V100",
    "V100-32GB",
)


# SkyPilot 0.14.1's cloud registry (sky.utils.registry.CLOUD_REGISTRY), plus its `k8s` alias: the first part
# of an infra string (`aws`, `gcp/us-central1`, `k8s/my-context`). Checked here so a typo fails before launch.
KNOWN_CLOUDS: tuple[str, ...] = (
    "aws", "azure", "cudo", "do", "fluidstack", "gcp", "hyperbolic", "ibm", "k8s", "kubernetes", "lambda",
    "mithril", "nebius", "oci", "paperspace", "primeintellect", "runpod", "scp", "seeweb", "shadeform", "slurm",
    "ssh", "vast", "verda", "vsphere", "yotta",
)  # fmt: skip


def validate_cloud(infra: str) -> str:
    """An infra string whose cloud SkyPilot knows; a one-line ValueError with a suggestion otherwise."""
    cloud = infra.strip().split("/", 1)[0].lower()
    if cloud not in KNOWN_CLOUDS:
        close = difflib.get_close_matches(cloud, KNOWN_CLOUDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown cloud {cloud!r} in {infra!r}; {hint}valid: {', '.join(KNOWN_CLOUDS)}")
    return infra.strip()


def validate_accelerator(name: str) -> str:
    """Return the catalog spelling of a known GPU name; raise a one-line ValueError for anything else."""
    by_lower = {known.lower(): known for known in KNOWN_ACCELERATORS}
    base, _, count = name.strip().partition(":")
    if count and base.lower() in by_lower:
        raise ValueError(
            f"--accelerator takes a GPU name without a count: use --accelerator {by_lower[base.lower()]} --gpus {count}"
        )
    canonical = by_lower.get(name.strip().lower())
    if canonical is None:
        raise ValueError(f"Unknown accelerator {name!r}; valid names: {', '.join(KNOWN_ACCELERATORS)}")
    return canonical
