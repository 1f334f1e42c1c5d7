"""Gated Transformer-XL memory (`gtrxl`, Parisotto et al. 2019): pre-norm, GRU-type gates instead of
residual sums, gate bias 2, Transformer-XL relative attention over the windowed segment memory.

    y = RelAttn(LN(h), LN(context));  h = gate_attn(h, ReLU(y))
    y = FF(LN(h));                    h = gate_ff(h, ReLU(y))
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.components.attention import feed_forward
from benchmark.components.gating import GRUGate
from benchmark.components.trxl import RelativeAttention, TrXLMemory
from benchmark.components.window import Window


class GTrXLBlock(nn.Module):
    def __init__(self, dim: int, heads: int, ff_hidden: int, memory: int, gate_bias: float):
        super().__init__()
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = RelativeAttention(dim, heads, memory)
        self.gate_attn = GRUGate(dim, gate_bias)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = feed_forward(dim, ff_hidden, act=nn.ReLU)
        self.gate_ff = GRUGate(dim, gate_bias)

    def forward(self, h: torch.Tensor, context: torch.Tensor, window: Window) -> torch.Tensor:
        y = self.attn(self.norm_attn(h), self.norm_attn(context), window)
        h = self.gate_attn(h, torch.relu(y))
        return self.gate_ff(h, torch.relu(self.ff(self.norm_ff(h))))


class GTrXLMemory(TrXLMemory):
    """TrXL's projection, window and readout with gated pre-norm blocks."""

    def __init__(
        self, in_dim: int, dim: int, layers: int, heads: int, ff_hidden: int, memory: int, gate_bias: float = 2.0
    ):
        self.gate_bias = gate_bias
        super().__init__(in_dim, dim, layers, heads, ff_hidden, memory, post_norm=False)

    def block(self, dim: int, heads: int, ff_hidden: int, memory: int) -> nn.Module:
        return GTrXLBlock(dim, heads, ff_hidden, memory, self.gate_bias)
