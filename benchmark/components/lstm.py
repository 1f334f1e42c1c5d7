"""LSTM memories: the fused one (state reset only at sequence starts) and the reset-aware one.

Both reset the state at a step whose `reset` flag is set when rolling out one step at a time. Inside a
training sequence the fused LSTM runs cuDNN/MKL's whole-sequence kernel and so carries state across an
episode end, as the reference suite's plain LSTMs did (`vit`, `fast`, `puffer`); the reset-aware LSTM
zeroes the state exactly where episodes start, so rollout and training see the same computation
(`vit_reset`, `fast_lstm_reset`). That difference is one of the things the benchmark measures.
"""

from __future__ import annotations

import torch
from tensordict import TensorDict
from torch import nn

from benchmark.components.base import Memory, keep_mask


class LSTMMemory(Memory):
    """Fused LSTM: one kernel call per sequence; a reset inside the sequence is not applied."""

    exact_reset = False

    def __init__(self, in_dim: int, hidden: int, layers: int = 1):
        super().__init__()
        self.lstm = nn.LSTM(in_dim, hidden, num_layers=layers, batch_first=True)
        for name, p in self.lstm.named_parameters():
            if "weight" in name:
                nn.init.orthogonal_(p, 1.0)
            else:
                nn.init.zeros_(p)
        self.hidden = hidden
        self.layers = layers
        self.out_dim = hidden

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> TensorDict:
        zeros = torch.zeros(batch, self.layers, self.hidden, device=device)
        return TensorDict({"h": zeros, "c": zeros.clone()}, batch_size=[batch], device=device)

    def _run(
        self, x: torch.Tensor, reset: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One fused call over x [B, T, D] after zeroing the rows whose first step resets. h, c: [layers, B, H]."""
        keep = keep_mask(reset[:, 0], h.transpose(0, 1)).transpose(0, 1)
        y, (h, c) = self.lstm(x, (h * keep, c * keep))
        return y, h, c

    def _sequence(
        self, x: torch.Tensor, reset: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self._run(x, reset, h, c)

    def forward(
        self, x: torch.Tensor, reset: torch.Tensor, state: TensorDict, **inputs: torch.Tensor
    ) -> tuple[torch.Tensor, TensorDict]:
        # state tensors are [B, layers, H]; torch wants [layers, B, H]
        y, h, c = self._sequence(x, reset, state["h"].transpose(0, 1), state["c"].transpose(0, 1))
        new = TensorDict({"h": h.transpose(0, 1), "c": c.transpose(0, 1)}, batch_size=state.batch_size)
        return y, new


class ResetLSTMMemory(LSTMMemory):
    """Reset-aware LSTM: the state is zeroed at every episode start, inside training sequences too.

    The sequence is cut at the steps where any row resets and each piece runs as one fused call, so the
    cost is one kernel call per distinct reset time (a few per minibatch), not one per step.
    """

    exact_reset = True

    def _sequence(
        self, x: torch.Tensor, reset: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cuts = (torch.nonzero(reset[:, 1:].any(0)).flatten() + 1).tolist()
        bounds = [0, *cuts, x.shape[1]]
        outs = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            y, h, c = self._run(x[:, a:b], reset[:, a:b], h, c)
            outs.append(y)
        return (outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)), h, c
