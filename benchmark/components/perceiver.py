"""Perceiver latent attention: learned latents cross-attend to a variable set of tokens.

Each layer: latents <- latents + CrossAttention(LN(latents), LN(tokens), padding mask); then optional
latent self-attention; then latents <- latents + FF(LN(latents)). An optional class token is one extra
latent; pooling is the mean of the latents or the class token, after a final LayerNorm. Because padding
is masked, the output does not depend on how many padding slots a batch carries.
"""

from __future__ import annotations

from typing import Literal

import torch
from tensordict import TensorDict
from torch import nn

from benchmark.components.attention import Attention, feed_forward, gather_rows
from benchmark.components.base import Component


class PerceiverLayer(nn.Module):
    def __init__(self, dim: int, token_dim: int, heads: int, ff_hidden: int, self_attention: bool):
        super().__init__()
        self.norm_latents = nn.LayerNorm(dim)
        self.norm_tokens = nn.LayerNorm(token_dim)
        self.cross = Attention(dim, token_dim, dim, heads)
        self.self_norm = nn.LayerNorm(dim) if self_attention else None
        self.self_attn = Attention(dim, dim, dim, heads) if self_attention else None
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = feed_forward(dim, ff_hidden)

    def forward(
        self,
        latents: torch.Tensor,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        distinct: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """`distinct` = (one row per distinct token, each slot's index into it): the token LayerNorm and K/V
        projection then run once per distinct token instead of once per slot (the same function), and when
        the latents are still the shared parameter ([1, Lq, D]: the first layer) so do the attention scores."""
        queries = self.norm_latents(latents)
        if distinct is None:
            attended = self.cross.attend(queries, self.cross.kv(self.norm_tokens(tokens)), mask)
        else:
            rows, index = distinct
            kv_rows = self.cross.kv(self.norm_tokens(rows))
            if latents.shape[0] == 1:
                attended = self.cross.attend_shared(queries, kv_rows, index, mask)
            else:
                attended = self.cross.attend(queries, gather_rows(kv_rows, index), mask)
        latents = latents + attended
        if self.self_attn is not None:
            h = self.self_norm(latents)
            latents = latents + self.self_attn(h, h)
        return latents + self.ff(self.norm_ff(latents))


class PerceiverEncoder(Component):
    in_keys = ("tokens", "tok_mask")
    out_keys = ("embed",)

    def __init__(
        self,
        token_dim: int,
        latents: int = 12,
        dim: int = 64,
        heads: int = 4,
        layers: int = 2,
        ff_hidden: int = 192,
        self_attention: bool = False,
        cls_token: bool = False,
        pool: Literal["mean", "cls"] = "mean",
    ):
        super().__init__()
        if pool == "cls" and not cls_token:
            raise ValueError("pool='cls' needs cls_token=True")
        self.latents = nn.Parameter(torch.randn(latents + int(cls_token), dim) * 0.02)
        self.layers = nn.ModuleList(
            PerceiverLayer(dim, token_dim, heads, ff_hidden, self_attention) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.pool = pool
        self.cls_token = cls_token
        self.out_dim = dim

    def forward(self, td: TensorDict) -> TensorDict:
        tokens, mask = td["tokens"], td["tok_mask"]
        # a row without any token (never seen in MettaGrid: global tokens are always there) reads slot 0,
        # which the shim zeroed, instead of producing NaN from an all-masked softmax
        mask = mask.clone()
        mask[:, 0] |= ~mask.any(1)
        latents = self.latents.unsqueeze(0)  # [1, Lq, D]: broadcast by the first layer's residual
        distinct = (tokens[td["tok_first"]], td["tok_index"]) if "tok_first" in td.keys() else None
        for layer in self.layers:
            latents = layer(latents, tokens, mask.unsqueeze(1), distinct)
        latents = self.norm(latents)
        if self.pool == "cls":
            td["embed"] = latents[:, 0]
        else:
            td["embed"] = (latents[:, 1:] if self.cls_token else latents).mean(1)
        return td
