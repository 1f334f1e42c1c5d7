"""Checkpoints and small JSON files, written atomically: a kill at any moment leaves the last good one."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from benchmark.atomic import atomic_write_bytes

CHECKPOINT = "checkpoint.pt"


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=device, weights_only=False)
