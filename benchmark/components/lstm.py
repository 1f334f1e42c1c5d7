"""LSTM memories: the fused one (state reset only at sequence starts) and the reset-aware one.

Both reset the state at a step whose `reset` flag is set when rolling out one step at a time. Inside a
training sequence the fused LSTM runs cuDNN/MKL's whole-sequence kernel and so carries state across an
episode end, as the reference suite's plain LSTMs did; the reset-aware LSTM loops over time and zeroes
the state exactly where episodes start, so rollout and training see the same computation.
"""

from __future__ import annotations

import torch
from tensordict import TensorDict
from torch import nn

from benchmark.components.base import Memory, keep_mask


class LSTMMemory(Memory):
    def __init__(self, in_dim: int, hidden: int, layers: int = 1, reset_in_sequence: bool = False):
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
        self.exact_reset = reset_in_sequence

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> TensorDict:
        zeros = torch.zeros(batch, self.layers, self.hidden, device=device)
        return TensorDict({"h": zeros, "c": zeros.clone()}, batch_size=[batch], device=device)

    def forward(self, x: torch.Tensor, reset: torch.Tensor, state: TensorDict) -> tuple[torch.Tensor, TensorDict]:
        # state tensors are [B, layers, H]; torch wants [layers, B, H]
        h = state["h"].transpose(0, 1)
        c = state["c"].transpose(0, 1)
        if not self.exact_reset or x.shape[1] == 1:
            keep = keep_mask(reset[:, 0], h.transpose(0, 1)).transpose(0, 1)
            y, (h, c) = self.lstm(x, (h * keep, c * keep))
        else:
            outs = []
            for t in range(x.shape[1]):
                keep = keep_mask(reset[:, t], h.transpose(0, 1)).transpose(0, 1)
                y_t, (h, c) = self.lstm(x[:, t : t + 1], (h * keep, c * keep))
                outs.append(y_t)
            y = torch.cat(outs, dim=1)
        new = TensorDict({"h": h.transpose(0, 1), "c": c.transpose(0, 1)}, batch_size=state.batch_size)
        return y, new
