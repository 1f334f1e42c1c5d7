"""Device, threads and seeding: the few process-wide settings a job makes, in one place."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but CUDA is not available; valid here: auto, cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def configure_threads(threads: int | None) -> int:
    """Torch threads: the given number, ARCHBENCH_THREADS (set by the controller), or every CPU we may use."""
    n = threads or int(os.environ.get("ARCHBENCH_THREADS", "0")) or available_cpus()
    torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
