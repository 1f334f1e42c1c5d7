"""Attention building blocks shared by the perceiver and the transformer memories."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.components.init import layer_init


def gather_rows(rows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """rows [U, D], index [N, L] -> [N, L, D] (index_select: the fastest gather + backward measured on CPU)."""
    return rows.index_select(0, index.reshape(-1)).view(*index.shape, rows.shape[-1])


class Attention(nn.Module):
    """Multi-head attention from `q_dim` queries to `kv_dim` keys/values, output `q_dim` (residual-ready)."""

    def __init__(self, q_dim: int, kv_dim: int, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.q = layer_init(nn.Linear(q_dim, dim), gain=1.0)
        self.kv = layer_init(nn.Linear(kv_dim, 2 * dim), gain=1.0)
        self.out = layer_init(nn.Linear(dim, q_dim), gain=1.0)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """[N, L, H*d] -> [N, H, L, d]"""
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [N, Lq, q_dim], context [N, Lk, kv_dim], mask [N, Lq or 1, Lk] bool (True = may attend)."""
        return self.attend(x, self.kv(context), mask)

    def attend(self, x: torch.Tensor, kv: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """As `forward`, with the context's K/V projection `kv` [N, Lk, 2 * dim] already computed."""
        q = self.split(self.q(x))
        k, v = (self.split(t) for t in kv.chunk(2, dim=-1))
        attn_mask = mask.unsqueeze(1) if mask is not None else None
        if q.dtype == torch.bfloat16 and q.device.type == "cpu":
            # CPU bf16 SDPA is fast forward but its backward is ~15x slower than fp32's (torch 2.13): under
            # autocast the projections stay bf16 and the attention itself runs in fp32
            with torch.autocast("cpu", enabled=False):
                y = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=attn_mask)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.out(y.transpose(1, 2).flatten(-2))

    def attend_shared(
        self, x: torch.Tensor, kv_rows: torch.Tensor, index: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """As `attend` when every row asks the same queries x [1, Lq, q_dim] (a perceiver's first layer) of
        tokens given as distinct rows: kv_rows [U, 2 * dim] (each distinct token's K/V), index [N, L] (each
        slot's row), mask [N, 1, L]. A query-key score depends only on the distinct token then, so it is
        computed once per distinct token and gathered: about half the time of the per-slot attention (fp32,
        1 thread, level-1 shapes). In fp32, as `attend`'s attention."""
        n, length = index.shape
        with torch.autocast(x.device.type, enabled=False):
            q = self.q(x.float())[0].unflatten(-1, (self.heads, -1))  # [Lq, H, d]
            k, v = kv_rows.float().unflatten(-1, (2, self.heads, -1)).unbind(-3)  # [U, H, d]
            scores = torch.einsum("uhd,qhd->uhq", k, q) * q.shape[-1] ** -0.5  # [U, H, Lq]
            scores = gather_rows(scores.flatten(1), index).view(n, length, *scores.shape[1:])
            weights = scores.masked_fill(~mask.view(n, length, 1, 1), float("-inf")).softmax(1)
            values = gather_rows(v.flatten(1), index).view(n, length, *v.shape[1:])  # [N, L, H, d]
            y = torch.einsum("nlhq,nlhd->nqhd", weights, values)
        return self.out(y.flatten(-2))


def feed_forward(dim: int, hidden: int, act: type[nn.Module] = nn.GELU) -> nn.Sequential:
    return nn.Sequential(layer_init(nn.Linear(dim, hidden)), act(), layer_init(nn.Linear(hidden, dim), gain=1.0))


def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer-XL sinusoid embedding of (relative) positions [P] -> [P, dim]."""
    inv = 1.0 / (10000 ** (torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) / dim))
    angles = positions.float().unsqueeze(-1) * inv
    return torch.cat((angles.sin(), angles.cos()), dim=-1)
