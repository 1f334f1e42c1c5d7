"""Actor and critic heads, and the auxiliary dynamics heads of `fast_dynamics`."""

from __future__ import annotations

import torch
from tensordict import TensorDict
from torch import nn

from benchmark.components.base import Component
from benchmark.components.init import mlp


def fp32_output(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Runs an MLP with its last layer outside autocast, in fp32: logits and values feed the PPO ratio and the
    value targets, which bf16's 8-bit mantissa would blur (the hidden layers keep the cheap dtype)."""
    last = len(net) - 1
    for i, layer in enumerate(net):
        if i == last:
            with torch.autocast(x.device.type, enabled=False):
                return layer(x.float())
        x = layer(x)
    return x


class ActorCritic(Component):
    """core -> actor MLP -> logits; core -> critic MLP -> value. Hidden sizes 0 mean a linear head."""

    in_keys = ("core",)
    out_keys = ("logits", "value")

    def __init__(self, in_dim: int, num_actions: int, actor_hidden: tuple[int, ...], critic_hidden: tuple[int, ...]):
        super().__init__()
        self.actor = mlp([in_dim, *actor_hidden, num_actions], out_gain=0.01)
        self.critic = mlp([in_dim, *critic_hidden, 1], out_gain=1.0)

    def forward(self, td: TensorDict) -> TensorDict:
        core = td["core"]
        td["logits"] = fp32_output(self.actor, core)
        td["value"] = fp32_output(self.critic, core).squeeze(-1)
        return td


class DynamicsHeads(Component):
    """Predicts this step's reward and the return-to-go from the core; trained by `dynamics_loss`."""

    in_keys = ("core",)
    out_keys = ("pred_reward", "pred_return")

    def __init__(self, in_dim: int, hidden: int = 128):
        super().__init__()
        self.reward = mlp([in_dim, hidden, 1])
        self.ret = mlp([in_dim, hidden, 1])

    def forward(self, td: TensorDict) -> TensorDict:
        core = td["core"]
        td["pred_reward"] = fp32_output(self.reward, core).squeeze(-1)
        td["pred_return"] = fp32_output(self.ret, core).squeeze(-1)
        return td


def dynamics_loss(out: TensorDict, rewards: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the predicted reward and return against what the rollout measured."""
    return 0.5 * ((out["pred_reward"] - rewards) ** 2).mean() + 0.5 * ((out["pred_return"] - returns) ** 2).mean()
