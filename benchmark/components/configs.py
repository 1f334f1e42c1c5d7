"""Pydantic configs that build components: an architecture is a composition of these.

Each config's `build` takes the sizes flowing in and returns the module; sizes are checked there once.
New component kinds subclass these bases; nothing else needs to change.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from benchmark.components.base import Component, Memory, ObsSpec
from benchmark.components.box import BoxNormalize
from benchmark.components.cnn import CNNEncoder
from benchmark.components.heads import ActorCritic, DynamicsHeads
from benchmark.components.lstm import LSTMMemory


class ComponentConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EncoderConfig(ComponentConfig):
    """Builds the per-step chain obs -> ... -> embed. `observation` picks what the trainer feeds it."""

    observation: Literal["box", "tokens"] = "box"

    def build(self, spec: ObsSpec) -> tuple[list[Component], int]:
        raise NotImplementedError


class MemoryConfig(ComponentConfig):
    kind: str = "memory"

    def build(self, in_dim: int) -> Memory:
        raise NotImplementedError


class CNNConfig(EncoderConfig):
    """Tokens scattered into a box -> CNN -> fc (the reference `fast` encoder)."""

    observation: Literal["box", "tokens"] = "box"
    channels: tuple[int, int] = Field((64, 64), description="filters of the two conv layers")
    kernels: tuple[int, int] = Field((5, 3), description="kernel sizes")
    stride: int = Field(3, ge=1, description="stride of the first conv")
    out_dim: int = Field(128, ge=1, description="width of the fc layer after the convs")

    def build(self, spec: ObsSpec) -> tuple[list[Component], int]:
        cnn = CNNEncoder(spec.num_features, spec.window, self.channels, self.kernels, self.stride, self.out_dim)
        return [BoxNormalize(spec), cnn], self.out_dim


class LSTMConfig(MemoryConfig):
    kind: str = "lstm"
    hidden: int = Field(128, ge=1)
    layers: int = Field(1, ge=1)
    reset_in_sequence: bool = Field(False, description="zero the state at episode ends inside training sequences")

    def build(self, in_dim: int) -> Memory:
        return LSTMMemory(in_dim, self.hidden, self.layers, self.reset_in_sequence)


class HeadsConfig(ComponentConfig):
    actor_hidden: tuple[int, ...] = Field((512,), description="actor MLP hidden sizes")
    critic_hidden: tuple[int, ...] = Field((1024,), description="critic MLP hidden sizes")
    dynamics: bool = Field(False, description="add reward and return prediction heads trained by their own loss")
    dynamics_coef: float = Field(0.5, ge=0, description="weight of the dynamics loss")

    def build(self, in_dim: int, num_actions: int) -> list[Component]:
        heads: list[Component] = [ActorCritic(in_dim, num_actions, self.actor_hidden, self.critic_hidden)]
        if self.dynamics:
            heads.append(DynamicsHeads(in_dim))
        return heads
