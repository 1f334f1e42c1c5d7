"""A plain causal transformer memory (the `transformer` architecture): pre-norm blocks, no gating, learned
absolute positions over the window.

The position of a step is its step count in the episode modulo (memory + 1): within any window of
memory + 1 steps the positions are distinct (a ring), so a query can order what it sees, and the
position is a function of the episode alone, which keeps rollout and training identical.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.components.attention import Attention, feed_forward
from benchmark.components.init import layer_init
from benchmark.components.window import Window, WindowMemory


class PreNormBlock(nn.Module):
    """h <- h + Attention(LN(h), LN(context), mask); h <- h + FF(LN(h))."""

    def __init__(self, dim: int, heads: int, ff_hidden: int):
        super().__init__()
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = Attention(dim, dim, dim, heads)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = feed_forward(dim, ff_hidden)

    def forward(self, h: torch.Tensor, context: torch.Tensor, window: Window) -> torch.Tensor:
        h = h + self.attn(self.norm_attn(h), self.norm_attn(context), window.mask)
        return h + self.ff(self.norm_ff(h))


class TransformerMemory(WindowMemory):
    def __init__(self, in_dim: int, dim: int, layers: int, heads: int, ff_hidden: int, memory: int, tokens: int = 1):
        super().__init__(dim, layers, memory, tokens)
        self.proj = layer_init(nn.Linear(in_dim, dim), gain=1.0)
        self.positions = nn.Embedding(memory + 1, dim)
        nn.init.normal_(self.positions.weight, std=0.02)
        self.blocks = nn.ModuleList(PreNormBlock(dim, heads, ff_hidden) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def position(self, steps: torch.Tensor) -> torch.Tensor:
        return self.positions(steps % (self.memory + 1))

    def embed(self, x: torch.Tensor, steps: torch.Tensor, **inputs: torch.Tensor) -> torch.Tensor:
        return (self.proj(x) + self.position(steps)).unsqueeze(2)

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        return self.norm(h[:, :, 0])
