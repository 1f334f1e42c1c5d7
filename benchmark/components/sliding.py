"""Sliding-window transformer memory (`vit_sliding`): three tokens per step, a KV window of recent steps.

Each step contributes an observation token (the encoder's embedding), a last-reward token and a
last-action token, each with a learned type embedding plus the step's ring position (see
`transformer.py`). The tokens of a step attend to each other and to the tokens of the previous
`memory` steps of the episode; the step's output is its observation token after the last layer. The
reference sized its cache in tokens (80): `memory = cache_tokens // 3` steps.

`last_action` and `last_reward` come from the observation's global tokens (the token shim reads them).
MettaGrid 0.26.22 writes the `last_reward` token as 0 on every step; `BatchedEnv` fills in the step's
reward (a negative one as a separate `last_penalty` token), and the shim hands over the signed value.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.components.init import layer_init
from benchmark.components.transformer import TransformerMemory

TOKENS_PER_STEP = 3  # observation, last reward, last action


class SlidingWindowMemory(TransformerMemory):
    in_keys = ("last_action", "last_reward")

    def __init__(self, in_dim: int, num_actions: int, dim: int, layers: int, heads: int, ff_hidden: int, memory: int):
        super().__init__(in_dim, dim, layers, heads, ff_hidden, memory, tokens=TOKENS_PER_STEP)
        self.num_actions = num_actions
        self.reward = layer_init(nn.Linear(1, dim), gain=1.0)
        self.action = nn.Embedding(num_actions + 1, dim)  # the last row: an action id the table does not know
        nn.init.normal_(self.action.weight, std=0.02)
        self.types = nn.Parameter(torch.randn(TOKENS_PER_STEP, dim) * 0.02)

    def embed(
        self, x: torch.Tensor, steps: torch.Tensor, *, last_action: torch.Tensor, last_reward: torch.Tensor
    ) -> torch.Tensor:
        obs = self.proj(x)
        reward = self.reward(last_reward.unsqueeze(-1).to(x.dtype))
        action = self.action(last_action.long().clamp(0, self.num_actions))
        tokens = torch.stack((obs, reward, action), dim=2) + self.types  # [B, T, 3, D]
        return tokens + self.position(steps).unsqueeze(2)
