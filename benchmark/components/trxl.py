"""Transformer-XL memory (`trxl`, and the NVIDIA-style post-norm `trxl_nvidia`).

Relative positional attention (Dai et al. 2019): score(i, j) = (q_i + u) . k_j + (q_i + v) . W_r R(i - j),
R a sinusoid of the distance in steps, u and v learned per head. The segment memory is the window of
previous layer inputs kept by `WindowMemory` (exact across episode ends). Distances run 0..memory, so
the relative term is one [T, memory + 1] product per head, gathered per key: no relative-shift trick.

Pre-norm (default): h <- h + RelAttn(LN(h), LN(context)); h <- h + FF(LN(h)); a final LayerNorm.
Post-norm (NVIDIA DeepLearningExamples' default): h <- LN(h + RelAttn(h, context)); h <- LN(h + FF(h)).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from benchmark.components.attention import feed_forward, sinusoid
from benchmark.components.init import layer_init
from benchmark.components.window import Window, WindowMemory


class RelativeAttention(nn.Module):
    def __init__(self, dim: int, heads: int, memory: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.heads, self.head_dim = heads, dim // heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv = nn.Linear(dim, 2 * dim, bias=False)
        self.r = nn.Linear(dim, dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.u = nn.Parameter(torch.zeros(heads, 1, self.head_dim))
        self.v = nn.Parameter(torch.zeros(heads, 1, self.head_dim))
        self.register_buffer("distances", sinusoid(torch.arange(memory + 1), dim), persistent=False)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, self.head_dim)).transpose(-3, -2)

    def forward(self, h: torch.Tensor, context: torch.Tensor, window: Window) -> torch.Tensor:
        """h [B, T, D] queries, context [B, M+T, D] keys/values -> [B, T, D]."""
        q = self.split(self.q(h))  # [B, H, T, d]
        k, v = (self.split(x) for x in self.kv(context).chunk(2, dim=-1))  # [B, H, M+T, d]
        r = self.split(self.r(self.distances))  # [H, M+1, d]
        content = (q + self.u) @ k.transpose(-1, -2)  # [B, H, T, M+T]
        position = ((q + self.v) @ r.transpose(-1, -2)).gather(-1, window.distance.expand_as(content))  # [B, H, T, M+T]
        scores = (content + position) / math.sqrt(self.head_dim)
        scores = scores.masked_fill(~window.mask.unsqueeze(1), float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v
        return self.out(y.transpose(1, 2).flatten(-2))


class TrXLBlock(nn.Module):
    def __init__(self, dim: int, heads: int, ff_hidden: int, memory: int, post_norm: bool):
        super().__init__()
        self.post_norm = post_norm
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = RelativeAttention(dim, heads, memory)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = feed_forward(dim, ff_hidden, act=nn.ReLU)

    def forward(self, h: torch.Tensor, context: torch.Tensor, window: Window) -> torch.Tensor:
        if self.post_norm:
            h = self.norm_attn(h + self.attn(h, context, window))
            return self.norm_ff(h + self.ff(h))
        h = h + self.attn(self.norm_attn(h), self.norm_attn(context), window)
        return h + self.ff(self.norm_ff(h))


class TrXLMemory(WindowMemory):
    def __init__(
        self, in_dim: int, dim: int, layers: int, heads: int, ff_hidden: int, memory: int, post_norm: bool = False
    ):
        super().__init__(dim, layers, memory)
        self.post_norm = post_norm
        self.proj = layer_init(nn.Linear(in_dim, dim), gain=1.0)
        self.blocks = nn.ModuleList(self.block(dim, heads, ff_hidden, memory) for _ in range(layers))
        self.norm = nn.Identity() if post_norm else nn.LayerNorm(dim)

    def block(self, dim: int, heads: int, ff_hidden: int, memory: int) -> nn.Module:
        return TrXLBlock(dim, heads, ff_hidden, memory, self.post_norm)

    def embed(self, x: torch.Tensor, steps: torch.Tensor, **inputs: torch.Tensor) -> torch.Tensor:
        return self.proj(x).unsqueeze(2)

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        return self.norm(h[:, :, 0])
