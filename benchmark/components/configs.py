"""Pydantic configs that build components: an architecture is a composition of these.

Each config's `build` takes the sizes flowing in and returns the module; sizes are checked there once.
New component kinds subclass these bases; nothing else needs to change.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmark.components.agalite import AGaLiTeMemory
from benchmark.components.base import Component, Memory, ObsSpec
from benchmark.components.box import BoxNormalize
from benchmark.components.cnn import CentreCellEncoder, CNNEncoder, Concat, ScatterCNNEncoder
from benchmark.components.fourier import FourierTokenEmbed
from benchmark.components.gtrxl import GTrXLMemory
from benchmark.components.heads import ActorCritic, DynamicsHeads
from benchmark.components.lstm import LSTMMemory, ResetLSTMMemory
from benchmark.components.perceiver import PerceiverEncoder
from benchmark.components.sliding import TOKENS_PER_STEP, SlidingWindowMemory
from benchmark.components.tokens import TokenShim
from benchmark.components.transformer import TransformerMemory
from benchmark.components.trxl import TrXLMemory


class ComponentConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- encoders: obs -> embed ------------------------------------------------------------------------------


class EncoderConfig(ComponentConfig):
    """Builds the per-step chain obs -> ... -> embed. `observation` picks what the trainer feeds it."""

    observation: Literal["box", "tokens"] = "box"

    def build(self, spec: ObsSpec) -> tuple[list[Component], int]:
        raise NotImplementedError


class CNNConfig(EncoderConfig):
    """Tokens scattered into a box -> CNN -> fc (the reference `fast` encoder)."""

    observation: Literal["box", "tokens"] = "box"
    channels: tuple[int, int] = Field((64, 64), description="filters of the two conv layers")
    kernels: tuple[int, int] = Field((5, 3), description="kernel sizes")
    stride: int = Field(3, ge=1, description="stride of the first conv")
    out_dim: int = Field(128, ge=1, description="width of the fc layer after the convs")
    sparse_first_conv: bool = Field(
        True, description="compute the first conv straight from tokens (same function, far fewer FLOPs)"
    )

    def build(self, spec: ObsSpec) -> tuple[list[Component], int]:
        sizes = dict(channels=self.channels, kernels=self.kernels, stride=self.stride, out_dim=self.out_dim)
        if self.sparse_first_conv:
            return [ScatterCNNEncoder(spec, **sizes)], self.out_dim
        return [BoxNormalize(spec), CNNEncoder(spec.num_channels, spec.window, **sizes)], self.out_dim


class PufferConfig(CNNConfig):
    """PufferLib's MettaGrid encoder: CNN -> fc, plus the centre cell's features -> fc, concatenated."""

    channels: tuple[int, int] = Field((128, 128), description="filters of the two conv layers")
    out_dim: int = Field(256, ge=1, description="width of the fc layer after the convs")
    self_dim: int = Field(256, ge=1, description="width of the centre-cell (self) feature layer")
    sparse_first_conv: bool = Field(False, description="off: the centre-cell features read the dense box")

    def build(self, spec: ObsSpec) -> tuple[list[Component], int]:
        cnn = CNNEncoder(
            spec.num_channels, spec.window, self.channels, self.kernels, self.stride, self.out_dim, out_key="cnn"
        )
        centre = CentreCellEncoder(spec.num_channels, spec.window, self.self_dim)
        return [BoxNormalize(spec), cnn, centre, Concat(("cnn", "self_embed"))], self.out_dim + self.self_dim


class PerceiverConfig(EncoderConfig):
    """Token shim -> feature-id embedding + Fourier (x, y) + value -> perceiver latents -> pooled embed."""

    observation: Literal["box", "tokens"] = "tokens"
    unknown_features: Literal["reserve", "drop"] = Field(
        "reserve", description="features absent from the trained table: one reserved embedding, or dropped"
    )
    feature_dim: int = Field(16, ge=1, description="feature-id embedding width")
    frequencies: int = Field(8, ge=1, description="Fourier frequencies per axis")
    token_mlp: int = Field(0, ge=0, description="width of a per-token MLP binding what and where (0: none)")
    latents: int = Field(12, ge=1, description="learned latent vectors")
    dim: int = Field(64, ge=1, description="latent width (the embed width)")
    heads: int = Field(4, ge=1, description="attention heads")
    layers: int = Field(2, ge=1, description="cross-attention layers")
    ff_hidden: int = Field(192, ge=1, description="latent feed-forward hidden width")
    self_attention: bool = Field(False, description="latent self-attention after each cross-attention")
    cls_token: bool = Field(False, description="add a class-token latent")
    pool: Literal["mean", "cls"] = Field("mean", description="mean of the latents, or the class token")

    @model_validator(mode="after")
    def _check(self) -> PerceiverConfig:
        if self.observation != "tokens":
            raise ValueError("a perceiver reads tokens: observation must be 'tokens'")
        if self.dim % self.heads:
            raise ValueError(f"perceiver dim {self.dim} is not divisible by {self.heads} heads")
        if self.pool == "cls" and not self.cls_token:
            raise ValueError("pool='cls' needs cls_token=True")
        return self

    def build(self, spec: ObsSpec) -> tuple[list[Component], int]:
        shim = TokenShim(spec, self.unknown_features)
        embed = FourierTokenEmbed(shim.table_size, shim.half, self.feature_dim, self.frequencies, self.token_mlp)
        perceiver = PerceiverEncoder(
            embed.out_dim,
            self.latents,
            self.dim,
            self.heads,
            self.layers,
            self.ff_hidden,
            self.self_attention,
            self.cls_token,
            self.pool,
        )
        return [shim, embed, perceiver], self.dim


# ---- memories: embed [B, T, D] -> core [B, T, H] ------------------------------------------------------------


class MemoryConfig(ComponentConfig):
    @property
    def kind(self) -> str:
        """Shown by `archbench list`; subclasses name themselves (default: the class name without Config)."""
        return type(self).__name__.removesuffix("Config").lower()

    def build(self, in_dim: int, spec: ObsSpec) -> Memory:
        raise NotImplementedError


class LSTMConfig(MemoryConfig):
    hidden: int = Field(128, ge=1, description="hidden size")
    layers: int = Field(1, ge=1, description="stacked layers")
    reset_in_sequence: bool = Field(False, description="zero the state at episode ends inside training sequences")

    @property
    def kind(self) -> str:
        return "lstm_reset" if self.reset_in_sequence else "lstm"

    def build(self, in_dim: int, spec: ObsSpec) -> Memory:
        cls = ResetLSTMMemory if self.reset_in_sequence else LSTMMemory
        return cls(in_dim, self.hidden, self.layers)


class WindowConfig(MemoryConfig):
    """Sizes shared by the windowed transformer memories."""

    dim: int = Field(32, ge=1, description="model width")
    layers: int = Field(1, ge=1, description="blocks")
    heads: int = Field(2, ge=1, description="attention heads")
    ff_hidden: int = Field(128, ge=1, description="feed-forward hidden width")

    @model_validator(mode="after")
    def _check_heads(self) -> WindowConfig:
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by {self.heads} heads")
        return self


class StepWindowConfig(WindowConfig):
    memory: int = Field(32, ge=1, description="previous steps of the episode each step attends to")


class TransformerConfig(StepWindowConfig):
    """Plain pre-norm causal transformer, learned ring positions, no gating."""

    @property
    def kind(self) -> str:
        return "transformer"

    def build(self, in_dim: int, spec: ObsSpec) -> Memory:
        return TransformerMemory(in_dim, self.dim, self.layers, self.heads, self.ff_hidden, self.memory)


class SlidingWindowConfig(WindowConfig):
    """Per-step observation, last-reward and last-action tokens; a KV window of `cache_tokens` tokens."""

    cache_tokens: int = Field(80, ge=TOKENS_PER_STEP, description="KV cache in tokens (3 per step)")

    @property
    def kind(self) -> str:
        return "sliding_window"

    def build(self, in_dim: int, spec: ObsSpec) -> Memory:
        steps = self.cache_tokens // TOKENS_PER_STEP
        return SlidingWindowMemory(in_dim, spec.num_actions, self.dim, self.layers, self.heads, self.ff_hidden, steps)


class TrXLConfig(StepWindowConfig):
    """Transformer-XL: relative positional attention with u/v biases over a segment memory."""

    post_norm: bool = Field(False, description="post-norm blocks (the NVIDIA implementation) instead of pre-norm")

    @property
    def kind(self) -> str:
        return "trxl_postnorm" if self.post_norm else "trxl"

    def build(self, in_dim: int, spec: ObsSpec) -> Memory:
        return TrXLMemory(in_dim, self.dim, self.layers, self.heads, self.ff_hidden, self.memory, self.post_norm)


class GTrXLConfig(StepWindowConfig):
    """Gated Transformer-XL: pre-norm, GRU-type gates with bias `gate_bias`, relative attention."""

    gate_bias: float = Field(2.0, description="initial bias of the update gate (positive: near identity)")

    @property
    def kind(self) -> str:
        return "gtrxl"

    def build(self, in_dim: int, spec: ObsSpec) -> Memory:
        return GTrXLMemory(in_dim, self.dim, self.layers, self.heads, self.ff_hidden, self.memory, self.gate_bias)


class AGaLiTeConfig(MemoryConfig):
    """Approximate gated linear transformer: a recurrent state of fixed size, no window."""

    dim: int = Field(32, ge=1, description="model width")
    layers: int = Field(3, ge=1, description="layers")
    heads: int = Field(4, ge=1, description="attention heads")
    head_dim: int = Field(8, ge=1, description="width of each head")
    eta: int = Field(6, ge=1, description="feature expansion of keys and queries")
    rank: int = Field(2, ge=1, description="oscillators approximating the gated attention (r)")
    ff_hidden: int = Field(128, ge=1, description="feed-forward hidden width")
    gate_bias: float = Field(2.0, description="initial bias of the GRU gates")

    @property
    def kind(self) -> str:
        return "agalite"

    def build(self, in_dim: int, spec: ObsSpec) -> Memory:
        sizes = (self.dim, self.layers, self.heads, self.head_dim, self.eta, self.rank, self.ff_hidden)
        return AGaLiTeMemory(in_dim, *sizes, gate_bias=self.gate_bias)


# ---- heads: core -> logits, value (and auxiliary predictions) -------------------------------------------------


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
