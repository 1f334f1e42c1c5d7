"""Device, threads and seeding: the few process-wide settings a job makes, in one place."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from benchmark.cpus import free_cpus


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but CUDA is not available; valid here: auto, cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def pick_precision(name: str, device: torch.device, cpu_bf16: bool = True) -> torch.dtype:
    """The dtype the policy's matrix products run in while training ("auto", "fp32" or "bf16").

    "auto" is bf16 on CPUs that multiply bf16 natively (AVX512-BF16 or AMX) for architectures that ask for
    it (`cpu_bf16`, their hint, set where measured faster: `fast` trains 25-40% faster here), else fp32.
    On CUDA "auto" stays fp32 until the bf16 path has been measured on a GPU (cuDNN's recurrent kernels in
    bf16 included); "bf16" asks for it explicitly. Autocast keeps the losses, the PPO ratio, the recurrent
    state and the actor/critic output layers in fp32, so only the bulk of the network's arithmetic is rounded.
    """
    if name in ("fp32", "bf16"):
        return torch.float32 if name == "fp32" else torch.bfloat16
    if name != "auto":
        raise ValueError(f"unknown precision {name!r}; valid: auto, fp32, bf16")
    if device.type != "cpu" or not cpu_bf16:
        return torch.float32
    native = [getattr(torch.cpu, f, None) for f in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return torch.bfloat16 if any(f is not None and f() for f in native) else torch.float32


def autocast(device: torch.device, dtype: torch.dtype) -> torch.autocast:
    return torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)


def configure_threads(threads: int | None, role: str = "train") -> int:
    """Torch threads: the given number, else ARCHBENCH_THREADS (set by the controller), else for an evaluation
    1 (its batches are too small to share: threads only add waiting), for training the CPUs free right now."""
    n = threads or int(os.environ.get("ARCHBENCH_THREADS", "0"))
    if not n:
        n = 1 if role == "eval" else free_cpus()
    torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


class Uploader:
    """Host arrays to the training device. On CUDA through pinned staging buffers with non-blocking copies:
    a buffer is reused one rollout step later, after the step's `action.cpu()` has synchronised the stream,
    so no copy is ever overwritten in flight. On CPU the array itself, as a tensor (no copy)."""

    def __init__(self, device: torch.device):
        self.device = device
        self._pinned: dict[str, torch.Tensor] = {}

    def __call__(self, name: str, array: np.ndarray) -> torch.Tensor:
        host = torch.from_numpy(array)
        if self.device.type != "cuda":
            return host.to(self.device)
        staging = self._pinned.get(name)
        if staging is None or staging.shape != host.shape or staging.dtype != host.dtype:
            staging = self._pinned[name] = torch.empty_like(host).pin_memory()
        staging.copy_(host)
        return staging.to(self.device, non_blocking=True)
