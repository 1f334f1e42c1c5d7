"""GRU-type gating of a residual stream (Parisotto et al. 2019, GTrXL), shared by GTrXL and AGaLiTe.

g(x, y) = (1 - z) * x + z * h, with r = sigmoid(W_r y + U_r x), z = sigmoid(W_z y + U_z x - bias),
h = tanh(W_g y + U_g (r * x)). A positive `bias` (2) starts the gate near the identity (z ~ 0.12), which
is what makes GTrXL train stably in RL.
"""

from __future__ import annotations

import torch
from torch import nn


class GRUGate(nn.Module):
    def __init__(self, dim: int, bias: float = 2.0):
        super().__init__()
        self.w = nn.Linear(dim, 3 * dim, bias=False)  # W_r, W_z, W_g applied to y
        self.u = nn.Linear(dim, 2 * dim, bias=False)  # U_r, U_z applied to x
        self.u_g = nn.Linear(dim, dim, bias=False)  # U_g applied to r * x
        self.bias = nn.Parameter(torch.full((dim,), float(bias)))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        wr, wz, wg = self.w(y).chunk(3, dim=-1)
        ur, uz = self.u(x).chunk(2, dim=-1)
        r = torch.sigmoid(wr + ur)
        z = torch.sigmoid(wz + uz - self.bias)
        h = torch.tanh(wg + self.u_g(r * x))
        return (1 - z) * x + z * h
