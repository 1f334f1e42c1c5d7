"""One policy contract for every architecture: encode -> memory -> heads.

The trainer and evaluator call only `prepare`, `initial_state`, `forward`, `aux_loss` (and the evaluator
`adapt`); there are no architecture-specific branches anywhere else.

A policy is built for the observation spec it is trained on. `adapt(env_spec)` lets it read an environment
whose feature table differs: token encoders remap features by name, box encoders raise ObservationError.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny
from tensordict import TensorDict
from torch import nn

from benchmark.components.base import ObservationError, ObsSpec
from benchmark.components.configs import EncoderConfig, HeadsConfig, MemoryConfig
from benchmark.components.heads import dynamics_loss


class TrainerHints(BaseModel):
    """Settings an architecture asks the trainer for; explicit trainer flags override them."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    learning_rate: float | None = Field(None, gt=0, description="Adam learning rate")
    minibatches: int | None = Field(None, ge=1, description="minibatches per epoch")
    epochs: int | None = Field(None, ge=1, description="passes over each rollout")
    bptt: int | None = Field(None, ge=1, description="rollout segment = truncated-BPTT horizon")
    entropy_coef: float | None = Field(None, ge=0, description="entropy bonus weight")
    cpu_bf16: bool = Field(
        False,
        description="precision 'auto' trains in bf16 on CPUs with native bf16: set where measured faster "
        "(on this project's CPU: the CNN family 1.3-1.6x, vit and trxl 1.2x, agalite 1.0x)",
    )


class ArchitectureConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = Field(description="the chain, in a line")
    encoder: SerializeAsAny[EncoderConfig]
    memory: SerializeAsAny[MemoryConfig] | None = None
    heads: HeadsConfig = Field(default_factory=HeadsConfig)
    hints: TrainerHints = Field(default_factory=TrainerHints)

    @property
    def memory_kind(self) -> str:
        return self.memory.kind if self.memory is not None else "none"


class Policy(nn.Module):
    def __init__(self, arch: ArchitectureConfig, spec: ObsSpec):
        super().__init__()
        self.spec = spec
        self.observation = arch.encoder.observation
        encoder, embed_dim = arch.encoder.build(spec)
        self.encoder = nn.ModuleList(encoder)
        self.memory = arch.memory.build(embed_dim, spec) if arch.memory is not None else None
        core_dim = self.memory.out_dim if self.memory is not None else embed_dim
        self.heads = nn.ModuleList(arch.heads.build(core_dim, spec.num_actions))
        self.dynamics_coef = arch.heads.dynamics_coef if arch.heads.dynamics else 0.0
        self._check_chain()

    def _check_chain(self) -> None:
        have = {"obs"}
        for comp in [*self.encoder, None, *self.heads]:
            if comp is None:  # the memory turns embed into core
                if "embed" not in have:
                    raise ValueError("encoder chain does not produce 'embed'")
                missing = set(self.memory.in_keys if self.memory is not None else ()) - have
                if missing:
                    name = type(self.memory).__name__
                    raise ValueError(f"{name} reads {sorted(missing)}, which the encoder chain does not write")
                have.add("core")
                continue
            missing = set(comp.in_keys) - have
            if missing:
                raise ValueError(f"{type(comp).__name__} reads {sorted(missing)}, which nothing before it writes")
            have.update(comp.out_keys)
        if not {"logits", "value"} <= have:
            raise ValueError("heads must write 'logits' and 'value'")

    def adapt(self, env: ObsSpec) -> None:
        """Read observations described by `env` from now on (the policy was built for `self.spec`).

        Raises ObservationError when it cannot: another action count, or a box encoder given a changed
        feature table or window. Token encoders remap features by name (see components/tokens.py).
        """
        if env.num_actions != self.spec.num_actions:
            raise ObservationError(
                f"the policy was trained with {self.spec.num_actions} actions and the environment has "
                f"{env.num_actions}; the action head cannot be remapped"
            )
        for comp in self.encoder:
            comp.adapt(env)

    @property
    def recurrent(self) -> bool:
        return self.memory is not None

    def prepare(self, tokens: torch.Tensor) -> torch.Tensor:
        """Parameter-free observation preprocessing, cached by the trainer: [N, K, 3] uint8 -> [N, ...].

        The first encoder component decides (a dense box for BoxNormalize, the tokens themselves otherwise).
        """
        first = self.encoder[0]
        return first.prepare(tokens) if hasattr(first, "prepare") else tokens

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> TensorDict:
        state = TensorDict({}, batch_size=[batch], device=device)
        if self.memory is not None:
            state["memory"] = self.memory.initial_state(batch, device)
        return state

    def forward(self, obs: torch.Tensor, reset: torch.Tensor, state: TensorDict) -> tuple[TensorDict, TensorDict]:
        """obs [B, T, ...] (from `prepare`), reset [B, T] bool, state [B] -> outputs [B*T], new state [B]."""
        b, t = reset.shape
        td = TensorDict({"obs": obs.reshape(b * t, *obs.shape[2:])}, batch_size=[b * t])
        for comp in self.encoder:
            td = comp(td)
        embed = td["embed"]
        new_state = state
        if self.memory is not None:
            inputs = {k: td[k].view(b, t, *td[k].shape[1:]) for k in self.memory.in_keys}
            core, mem = self.memory(embed.view(b, t, -1), reset, state["memory"], **inputs)
            td["core"] = core.reshape(b * t, -1)
            if torch.is_autocast_enabled(embed.device.type):
                # state stays fp32 under bf16 autocast: rounding it every step would compound over an episode
                mem = mem.apply(lambda x: x.float() if x.dtype == torch.bfloat16 else x)
            new_state = TensorDict({"memory": mem}, batch_size=[b])
        else:
            td["core"] = embed
        for head in self.heads:
            td = head(td)
        return td, new_state

    def aux_loss(self, out: TensorDict, rewards: torch.Tensor, returns: torch.Tensor) -> torch.Tensor | None:
        """Auxiliary losses of heads that have them (the dynamics heads), already weighted."""
        if self.dynamics_coef == 0.0:
            return None
        return self.dynamics_coef * dynamics_loss(out, rewards, returns)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
