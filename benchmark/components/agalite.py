"""AGaLiTe memory (Pramanik et al. 2023): approximate gated linear attention as a recurrence.

Per head, with feature expansion `eta` and approximation rank `r`:
    phi(q) = flatten(relu(q) (x) relu(p2)),  psi(k) = flatten(relu(k) (x) relu(p1))       (head_dim * eta)
    gamma  = flatten(sigmoid(W_g x) (x) sigmoid(p3)),  beta = sigmoid(W_b x)               (the gates)
    K_t = (1 - gamma_t) * K_{t-1} + cos(w t) (gamma_t * psi(k_t))     (r oscillators, w_i = pi i / (r + 1))
    V_t = (1 - beta_t)  * V_{t-1} + cos(w t) (beta_t * v_t)
    s_t = (1 - gamma_t) * s_{t-1} + gamma_t * psi(k_t)
    out = sum_r (K_t[r] . phi(q_t)) V_t[r] / (2 r s_t . phi(q_t) + eps)
t counts steps since the episode start and every decay is zeroed at a reset, so the state after an
episode end does not depend on the previous episode and a T-step call equals T one-step calls. The
projections run over the whole sequence at once; only the elementwise recurrence loops over time.
Layer (as in the paper): h = gate1(h, ReLU(attn(LN(h)))); h = gate2(h, ReLU(FF(LN(h)))), GRU gates.

Departure from the reference port: its frequencies `linspace(-pi, pi, r)` give +-pi at r = 2, and since
cos is even both oscillators are the same feature. Here w_i = pi i / (r + 1), i = 1..r: distinct in (0, pi),
so no two cosines coincide (and none is the constant w = 0).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from tensordict import TensorDict
from torch import nn

from benchmark.components.attention import feed_forward
from benchmark.components.base import Memory
from benchmark.components.gating import GRUGate
from benchmark.components.init import layer_init
from benchmark.components.window import episode_steps


def outer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[..., d], [..., e] -> [..., d*e]"""
    return (a.unsqueeze(-1) * b.unsqueeze(-2)).flatten(-2)


def oscillator_frequencies(rank: int) -> torch.Tensor:
    """r distinct frequencies in (0, pi): cos(w t) then differs between any two oscillators."""
    return math.pi * torch.arange(1, rank + 1, dtype=torch.float32) / (rank + 1)


class AGaLiTeAttention(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, eta: int, rank: int, eps: float = 1e-6):
        super().__init__()
        self.heads, self.head_dim, self.eta, self.rank, self.eps = heads, head_dim, eta, rank, eps
        self.feature_dim = head_dim * eta
        self.qkvbg = layer_init(nn.Linear(dim, 5 * heads * head_dim, bias=False))
        self.p = layer_init(nn.Linear(dim, 3 * heads * eta, bias=False))
        self.out = layer_init(nn.Linear(heads * head_dim, dim), gain=1.0)
        self.register_buffer("omegas", oscillator_frequencies(rank), persistent=False)

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        h, d, f, r = self.heads, self.head_dim, self.feature_dim, self.rank
        return {"k": (r, h, f), "v": (r, h, d), "s": (h, f)}

    def forward(
        self, x: torch.Tensor, keep: torch.Tensor, steps: torch.Tensor, state: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """x [B, T, D], keep [B, T] (0 where an episode starts), steps [B, T] -> [B, T, D], new state."""
        b, t, _ = x.shape
        q, k, v, beta, gamma = self.qkvbg(x).view(b, t, 5, self.heads, self.head_dim).unbind(2)
        p1, p2, p3 = self.p(x).view(b, t, 3, self.heads, self.eta).unbind(2)
        beta = torch.sigmoid(beta)
        phi_q = outer(F.relu(q), F.relu(p2))  # [B, T, H, F]
        gamma = outer(torch.sigmoid(gamma), torch.sigmoid(p3))
        keys = gamma * outer(F.relu(k), F.relu(p1))
        values = beta * v
        osc = torch.cos(steps.unsqueeze(-1).to(x.dtype) * self.omegas).view(b, t, self.rank, 1, 1)
        keep = keep.view(b, t, 1, 1)
        decay_k, decay_v = (1 - gamma) * keep, (1 - beta) * keep  # [B, T, H, F], [B, T, H, d]
        keys_osc, values_osc = osc * keys.unsqueeze(2), osc * values.unsqueeze(2)  # [B, T, r, H, .]
        big_k, big_v, s = state["k"], state["v"], state["s"]
        ks, vs, ss = [], [], []
        # unbind once: indexing [:, i] in the loop makes the backward write each step's gradient into a zeroed
        # full-length tensor (T fills and adds of [B, T, ...]); unbind's backward stacks them once
        steps_in = zip(
            decay_k.unbind(1), decay_v.unbind(1), keys_osc.unbind(1), values_osc.unbind(1), keys.unbind(1), strict=True
        )
        for dk, dv, k_osc, v_osc, key in steps_in:
            big_k = dk.unsqueeze(1) * big_k + k_osc
            big_v = dv.unsqueeze(1) * big_v + v_osc
            s = dk * s + key
            ks.append(big_k)
            vs.append(big_v)
            ss.append(s)
        all_k, all_v, all_s = torch.stack(ks, 1), torch.stack(vs, 1), torch.stack(ss, 1)
        scores = torch.einsum("btrhf,bthf->btrh", all_k, phi_q)
        num = torch.einsum("btrhd,btrh->bthd", all_v, scores)
        norm = torch.einsum("bthf,bthf->bth", all_s, phi_q).unsqueeze(-1)
        y = num / (2 * self.rank * norm + self.eps)
        return self.out(y.flatten(-2)), {"k": big_k, "v": big_v, "s": s}


class AGaLiTeLayer(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, eta: int, rank: int, ff_hidden: int, gate_bias: float):
        super().__init__()
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = AGaLiTeAttention(dim, heads, head_dim, eta, rank)
        self.gate_attn = GRUGate(dim, gate_bias)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = feed_forward(dim, ff_hidden, act=nn.ReLU)
        self.gate_ff = GRUGate(dim, gate_bias)

    def forward(
        self, h: torch.Tensor, keep: torch.Tensor, steps: torch.Tensor, state: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        y, state = self.attn(self.norm_attn(h), keep, steps, state)
        h = self.gate_attn(h, F.relu(y))
        return self.gate_ff(h, F.relu(self.ff(self.norm_ff(h)))), state


class AGaLiTeMemory(Memory):
    def __init__(
        self,
        in_dim: int,
        dim: int,
        layers: int,
        heads: int,
        head_dim: int,
        eta: int,
        rank: int,
        ff_hidden: int,
        gate_bias: float = 2.0,
    ):
        super().__init__()
        self.proj = layer_init(nn.Linear(in_dim, dim), gain=1.0)
        self.layers = nn.ModuleList(
            AGaLiTeLayer(dim, heads, head_dim, eta, rank, ff_hidden, gate_bias) for _ in range(layers)
        )
        self.out_dim = dim

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> TensorDict:
        shapes = self.layers[0].attn.state_shapes()
        n = len(self.layers)
        state = {key: torch.zeros(batch, n, *shape, device=device) for key, shape in shapes.items()}
        state["step"] = torch.zeros(batch, dtype=torch.long, device=device)
        return TensorDict(state, batch_size=[batch], device=device)

    def forward(
        self, x: torch.Tensor, reset: torch.Tensor, state: TensorDict, **inputs: torch.Tensor
    ) -> tuple[torch.Tensor, TensorDict]:
        steps, next_step = episode_steps(reset, state["step"])
        keep = (~reset).to(x.dtype)
        h = self.proj(x)
        new: dict[str, list[torch.Tensor]] = {"k": [], "v": [], "s": []}
        for i, layer in enumerate(self.layers):
            h, layer_state = layer(h, keep, steps, {key: state[key][:, i] for key in new})
            for key in new:
                new[key].append(layer_state[key])
        out = {key: torch.stack(vals, dim=1) for key, vals in new.items()}
        out["step"] = next_step
        return h, TensorDict(out, batch_size=state.batch_size)
