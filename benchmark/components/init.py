"""The one initialisation helper every component imports (never copied)."""

from __future__ import annotations

import math

from torch import nn


def layer_init(layer: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights and constant bias, the PPO convention (CleanRL, PufferLib)."""
    weight = getattr(layer, "weight", None)
    if weight is not None and weight.dim() >= 2:
        nn.init.orthogonal_(weight, gain)
    if getattr(layer, "bias", None) is not None:
        nn.init.constant_(layer.bias, bias)
    return layer


def mlp(sizes: list[int], out_gain: float = 1.0, act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers with `act` between them; the last layer gets `out_gain` (0.01 for actors)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = i == len(sizes) - 2
        layers.append(layer_init(nn.Linear(a, b), gain=out_gain if last else math.sqrt(2)))
        if not last:
            layers.append(act())
    return nn.Sequential(*layers)
