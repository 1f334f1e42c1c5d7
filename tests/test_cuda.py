"""Every architecture trains on CUDA (skipped without a GPU): a few updates, finite losses, the summary says cuda."""

from __future__ import annotations

import json

import pytest
import torch

from benchmark.architectures import ARCHITECTURES

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_every_architecture_trains_on_cuda(tmp_path, architecture):
    from benchmark.training.config import TrainConfig
    from benchmark.training.trainer import SUMMARY, train

    result = train(TrainConfig(architecture=architecture, timesteps=2 * 96 * 16, rows=96, bptt=16, out=tmp_path))
    summary = json.loads((tmp_path / SUMMARY).read_text())
    assert summary["device"] == "cuda" and result.agent_steps >= 2 * 96 * 16
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(line["policy_loss"])) for line in lines)
