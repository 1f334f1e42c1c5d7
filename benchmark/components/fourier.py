"""Token embedding: a learned feature-id embedding, Fourier features of the (x, y) position, and the value.

token = [embed(feature) (feature_dim), sin/cos(w_k x), sin/cos(w_k y) (4 x frequencies), value (1)]

The frequencies are geometric from pi (one period spans the window) to pi x half-window (neighbouring
cells half a period apart), so every frequency resolves something. The reference found Fourier positions
better than learned position embeddings or RoPE, and 8 frequencies better than 4.

`mlp` > 0 passes each token through a 2-layer MLP (GELU) of that width. Without it a token's key and value are
linear in [what, where] after LayerNorm, so a latent that attends broadly (as every latent does at
initialisation) averages "what" and "where" separately and cannot tell a mine to the north from a wall to
the north: the binding must wait for attention to sharpen. The MLP binds them per token. It runs once per
distinct token (see TokenShim), so it costs little.
"""

from __future__ import annotations

import math

import torch
from tensordict import TensorDict
from torch import nn

from benchmark.components.base import Component


def fourier_frequencies(count: int, half_window: int) -> torch.Tensor:
    """`count` angular frequencies, geometric from pi to pi * half_window (positions are in half-windows)."""
    if count < 1:
        raise ValueError(f"need at least one Fourier frequency, got {count}")
    top = max(half_window, 1)
    steps = torch.arange(count, dtype=torch.float32) / max(count - 1, 1)
    return math.pi * top**steps


class FourierTokenEmbed(Component):
    in_keys = ("tok_feature", "tok_pos", "tok_value")
    out_keys = ("tokens",)

    def __init__(self, table_size: int, half_window: int, feature_dim: int = 16, frequencies: int = 8, mlp: int = 0):
        super().__init__()
        self.embed = nn.Embedding(table_size, feature_dim)
        nn.init.normal_(self.embed.weight, std=1.0 / math.sqrt(feature_dim))
        self.register_buffer("freqs", fourier_frequencies(frequencies, half_window), persistent=False)
        raw_dim = feature_dim + 4 * frequencies + 1
        self.mlp = nn.Sequential(nn.Linear(raw_dim, mlp), nn.GELU(), nn.Linear(mlp, mlp)) if mlp > 0 else nn.Identity()
        self.out_dim = mlp if mlp > 0 else raw_dim

    def embed_tokens(self, feature: torch.Tensor, pos: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        angles = (pos.unsqueeze(-1) * self.freqs).flatten(-2)  # [..., 2F]
        return self.mlp(torch.cat((self.embed(feature), angles.sin(), angles.cos(), value.unsqueeze(-1)), dim=-1))

    def forward(self, td: TensorDict) -> TensorDict:
        if "tok_first" in td.keys():
            # each distinct token (see TokenShim) is embedded once and written at its first slot only: the
            # perceiver reads `tokens[tok_first]` and maps slots to them with `tok_index`; the other slots stay 0
            first = td["tok_first"]
            distinct = self.embed_tokens(td["tok_feature"][first], td["tok_pos"][first], td["tok_value"][first])
            tokens = distinct.new_zeros(*first.shape, distinct.shape[-1])
            td["tokens"] = tokens.index_put((first,), distinct)
        else:
            td["tokens"] = self.embed_tokens(td["tok_feature"], td["tok_pos"], td["tok_value"])
        return td
