"""The component contract every architecture is assembled from.

Shapes at the boundaries:
- per-step components see a TensorDict with batch size [N] (N = rows x time, flattened);
- the memory sees [B, T, D] sequences, a reset mask [B, T] (True where a new episode starts at that
  step, so the state from before it must not leak in) and its own state TensorDict with batch [B];
- components declare the keys they read and write; the policy checks the chain once at construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tensordict import TensorDict
from torch import nn


@dataclass(frozen=True)
class ObsSpec:
    """What a policy needs to know about the environment's observations, by feature name.

    Stored in checkpoints: attention encoders remap features by name when the environment's feature
    table changes; box encoders refuse a different table with a clear message.

    `categories` and `scales` say how a token's value becomes network input. A categorical feature
    (k > 0: object tags, last action, group) is one-hot over k values, because its value is an id: read as
    a number, "tag 3" would sit between "tag 2" and "tag 4", and id 0 (an agent's own type) would be
    zero input, invisible. A scalar feature (0) is value x scale; counts are scaled so one item is a
    visible input (MettaGrid's own normalisation of 256 makes one ore 0.004). Empty tuples mean the
    legacy encoding: everything scalar, scaled by 1 / normalisation.
    """

    feature_names: tuple[str, ...]  # index = the environment's feature id
    normalizations: tuple[float, ...]
    window: int  # egocentric window (height = width)
    num_tokens: int
    num_actions: int
    categories: tuple[int, ...] = ()
    scales: tuple[float, ...] = ()

    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    @property
    def feature_categories(self) -> tuple[int, ...]:
        return self.categories or (0,) * self.num_features

    @property
    def feature_scales(self) -> tuple[float, ...]:
        return self.scales or tuple(1.0 / max(n, 1.0) for n in self.normalizations)

    @property
    def channel_base(self) -> tuple[int, ...]:
        """First input channel of each feature in a box (a categorical feature spans k channels)."""
        base, at = [], 0
        for k in self.feature_categories:
            base.append(at)
            at += max(k, 1)
        return tuple(base)

    @property
    def num_channels(self) -> int:
        return sum(max(k, 1) for k in self.feature_categories)

    @property
    def channel_scales(self) -> tuple[float, ...]:
        """What one unit of a box channel's uint8 value is worth as input (1 for one-hot channels)."""
        out: list[float] = []
        for k, scale in zip(self.feature_categories, self.feature_scales, strict=True):
            out.extend([1.0] * k if k else [scale])
        return tuple(out)

    def to_dict(self) -> dict:
        return {
            "feature_names": list(self.feature_names),
            "normalizations": list(self.normalizations),
            "window": self.window,
            "num_tokens": self.num_tokens,
            "num_actions": self.num_actions,
            "categories": list(self.categories),
            "scales": list(self.scales),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ObsSpec:
        return cls(
            feature_names=tuple(d["feature_names"]),
            normalizations=tuple(float(x) for x in d["normalizations"]),
            window=int(d["window"]),
            num_tokens=int(d["num_tokens"]),
            num_actions=int(d["num_actions"]),
            categories=tuple(int(k) for k in d.get("categories", ())),
            scales=tuple(float(x) for x in d.get("scales", ())),
        )


class ObservationError(ValueError):
    """An observation the policy cannot read (e.g. a box encoder given a changed feature table)."""


class Component(nn.Module):
    """A per-step module reading `in_keys` and writing `out_keys` of a flat TensorDict."""

    in_keys: tuple[str, ...] = ()
    out_keys: tuple[str, ...] = ()

    def forward(self, td: TensorDict) -> TensorDict:  # pragma: no cover - interface
        raise NotImplementedError

    def adapt(self, env: ObsSpec) -> None:
        """Prepare to read observations described by `env` (the policy was built for its trained spec).

        Parameter-free components that depend on the feature table override this: token shims remap
        features by name, box encoders raise `ObservationError` when the table changed.
        """


class Memory(nn.Module):
    """A sequence module carrying per-row state the trainer stores without looking inside.

    `exact_reset` says whether a reset inside a training sequence zeroes the state there (True) or
    only at the sequence start (the fused-LSTM shortcut the reference used for its plain LSTMs).
    """

    exact_reset: bool = True
    out_dim: int
    in_keys: tuple[str, ...] = ()  # per-step keys besides `x` (e.g. last_action), passed as keyword [B, T, ...]

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> TensorDict:
        raise NotImplementedError

    def forward(
        self, x: torch.Tensor, reset: torch.Tensor, state: TensorDict, **inputs: torch.Tensor
    ) -> tuple[torch.Tensor, TensorDict]:  # pragma: no cover - interface
        raise NotImplementedError


def keep_mask(reset: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """1 where the state carries over, 0 where an episode starts; shaped to broadcast over `like`."""
    mask = (~reset).to(like.dtype)
    return mask.view(mask.shape + (1,) * (like.dim() - mask.dim()))
