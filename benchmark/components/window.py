"""The windowed memory every transformer memory shares: exact across rollout and training, episode-aware.

A step attends to itself and to exactly the previous `memory` steps of its own episode. The state holds,
per layer, the inputs of the last `memory` steps (`mem` [B, layers, memory, S, D], S tokens per step),
one validity flag per slot (`valid` [B, memory]: False for empty slots and for slots of an episode that
has ended) and the step count of the episode (`step` [B], for position embeddings). Inside a sequence a
reset masks everything before it. A sequence is processed at once: queries are its T steps, keys are
[memory slots; T steps], and one [B, T, memory + T] mask encodes causality, the window and episode
boundaries, so one T-step call computes exactly what T one-step calls compute.
"""

from __future__ import annotations

import torch
from tensordict import TensorDict
from torch import nn

from benchmark.components.base import Memory


def episode_steps(reset: torch.Tensor, start: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Steps since the episode start for each step of [B, T], given `start` [B] for the first step if it
    does not reset. Returns (steps [B, T], the value for the step after the sequence [B])."""
    t = torch.arange(reset.shape[1], device=reset.device)
    last_reset = torch.where(reset, t, -1).cummax(dim=1).values
    steps = torch.where(last_reset >= 0, t - last_reset, start.unsqueeze(1) + t)
    return steps, steps[:, -1] + 1


class Window:
    """The attention mask and memory roll of one call: `memory` slots before T new steps."""

    def __init__(self, valid: torch.Tensor, reset: torch.Tensor, tokens_per_step: int = 1):
        b, m = valid.shape
        t = reset.shape[1]
        dev = reset.device
        self.memory = m
        self.seq_ep = reset.long().cumsum(1)  # episode index inside the call; memory slots are episode 0
        self.key_ep = torch.cat((torch.zeros(b, m, dtype=torch.long, device=dev), self.seq_ep), dim=1)
        self.key_valid = torch.cat((valid, torch.ones(b, t, dtype=torch.bool, device=dev)), dim=1)
        q = torch.arange(t, device=dev).unsqueeze(1) + m  # query positions among the keys
        k = torch.arange(m + t, device=dev).unsqueeze(0)
        in_window = (k <= q) & (k >= q - m)  # itself and the previous m steps
        same_episode = self.key_ep.unsqueeze(1) == self.seq_ep.unsqueeze(2)
        mask = in_window & same_episode & self.key_valid.unsqueeze(1)  # [B, T, M+T]
        self.distance = (q - k).clamp(0, m)  # [T, M+T] steps back from the query (masked outside the window)
        if tokens_per_step > 1:  # the tokens of one step see each other and the tokens of the steps they see
            mask = mask.repeat_interleave(tokens_per_step, 1).repeat_interleave(tokens_per_step, 2)
        self.mask = mask

    def next_valid(self) -> torch.Tensor:
        """Validity of the slots kept for the next call: real steps of the last step's episode."""
        m = self.memory
        return self.key_valid[:, -m:] & (self.key_ep[:, -m:] == self.seq_ep[:, -1:])


class WindowMemory(Memory):
    """Base of the transformer memories. Subclasses build `blocks` and define `embed` (and `readout`).

    A block is called as block(h [B, T*S, D], context [B, (M+T)*S, D], window) and returns the new h;
    `context` is the block's own input for the memory slots followed by the sequence.
    """

    def __init__(self, dim: int, layers: int, memory: int, tokens_per_step: int = 1):
        super().__init__()
        if memory < 1 or layers < 1:
            raise ValueError(f"a windowed memory needs memory >= 1 and layers >= 1, got {memory} and {layers}")
        self.dim, self.num_layers, self.memory, self.tokens_per_step = dim, layers, memory, tokens_per_step
        self.out_dim = dim
        self.blocks = nn.ModuleList()

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> TensorDict:
        shape = (batch, self.num_layers, self.memory, self.tokens_per_step, self.dim)
        return TensorDict(
            {
                "mem": torch.zeros(shape, device=device),
                "valid": torch.zeros(batch, self.memory, dtype=torch.bool, device=device),
                "step": torch.zeros(batch, dtype=torch.long, device=device),
            },
            batch_size=[batch],
            device=device,
        )

    def embed(self, x: torch.Tensor, steps: torch.Tensor, **inputs: torch.Tensor) -> torch.Tensor:
        """x [B, T, in_dim], steps since episode start [B, T] -> first-layer inputs [B, T, S, D]."""
        raise NotImplementedError

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        """Last-layer outputs [B, T, S, D] -> [B, T, out_dim]: the first token of each step."""
        return h[:, :, 0]

    def forward(
        self, x: torch.Tensor, reset: torch.Tensor, state: TensorDict, **inputs: torch.Tensor
    ) -> tuple[torch.Tensor, TensorDict]:
        b, t = reset.shape
        s, d = self.tokens_per_step, self.dim
        steps, next_step = episode_steps(reset, state["step"])
        h = self.embed(x, steps, **inputs)
        window = Window(state["valid"], reset, s)
        mems = []
        for layer, block in enumerate(self.blocks):
            full = torch.cat((state["mem"][:, layer], h), dim=1)  # [B, M+T, S, D]
            mems.append(full[:, -self.memory :])
            h = block(h.reshape(b, t * s, d), full.reshape(b, -1, d), window).view(b, t, s, d)
        new = TensorDict(
            {"mem": torch.stack(mems, dim=1), "valid": window.next_valid(), "step": next_step},
            batch_size=state.batch_size,
        )
        return self.readout(h), new
