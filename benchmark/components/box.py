"""Box observations: tokens scattered into a dense [features, window, window] grid (the CNN input).

Scattering is parameter-free, so the trainer caches the uint8 box from the rollout instead of
rebuilding it for the update (+15% training speed in calibration).
"""

from __future__ import annotations

import torch
from tensordict import TensorDict

from benchmark.components.base import Component, ObservationError, ObsSpec

PADDING = 0xFF
GLOBAL = 0xFE


def tokens_to_box(tokens: torch.Tensor, num_features: int, window: int) -> torch.Tensor:
    """[N, K, 3] uint8 tokens -> [N, W, W, F] uint8 box. Global tokens land on the agent's own cell.

    Channels-last (NHWC) is the layout the CNN runs fastest in; keeping it in the stored box means the
    trainer's rollout storage preserves it and normalising needs no transposing copy. Padding and
    features beyond `num_features` go to a scratch slot that is cut off afterwards.
    """
    n, k, _ = tokens.shape
    loc = tokens[..., 0].long()
    feat = tokens[..., 1].long()
    row = loc >> 4
    col = loc & 0x0F
    centre = window // 2
    is_global = loc == GLOBAL
    row = torch.where(is_global, centre, row)
    col = torch.where(is_global, centre, col)
    valid = (loc != PADDING) & (feat < num_features) & (row < window) & (col < window)
    index = (row * window + col) * num_features + feat
    scratch = window * window * num_features
    index = torch.where(valid, index, scratch)
    box = torch.zeros(n, scratch + 1, dtype=torch.uint8, device=tokens.device)
    box.scatter_(1, index, tokens[..., 2])
    return box[:, :scratch].view(n, window, window, num_features)


def check_box_features(trained: ObsSpec, env: ObsSpec) -> None:
    """Box encoders read features by position: a changed feature table would silently scramble them."""
    if trained.feature_names != env.feature_names:
        added = sorted(set(env.feature_names) - set(trained.feature_names))
        removed = sorted(set(trained.feature_names) - set(env.feature_names))
        raise ObservationError(
            f"this box (CNN) policy was trained on {trained.num_features} observation features and the "
            f"environment has {env.num_features} (added {added}, removed {removed}); box encoders must be "
            "retrained when features change (attention encoders remap them by name)"
        )
    if trained.window != env.window:
        raise ObservationError(
            f"this box (CNN) policy was trained on a {trained.window}x{trained.window} window and the environment "
            f"has {env.window}x{env.window}; box encoders must be retrained when the window changes"
        )


class BoxNormalize(Component):
    """uint8 NHWC box -> float NCHW box (channels-last strides) divided by each feature's normalisation."""

    in_keys = ("obs",)
    out_keys = ("box",)

    def __init__(self, spec: ObsSpec):
        super().__init__()
        self.spec = spec
        inv = torch.tensor([1.0 / max(n, 1.0) for n in spec.normalizations], dtype=torch.float32)
        self.register_buffer("inv_norm", inv.view(1, -1, 1, 1), persistent=False)

    def adapt(self, env: ObsSpec) -> None:
        check_box_features(self.spec, env)

    def prepare(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens_to_box(tokens, self.spec.num_features, self.spec.window)

    def forward(self, td: TensorDict) -> TensorDict:
        # uint8 x float32 -> float32 in one pass; the permuted NHWC input keeps channels-last strides
        td["box"] = (td["obs"].permute(0, 3, 1, 2) * self.inv_norm).contiguous(memory_format=torch.channels_last)
        return td
