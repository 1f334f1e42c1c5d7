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


FEATURE_IDS = 256  # uint8 feature ids


def channel_tables(spec: ObsSpec) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lookup tables over all 256 feature ids: first box channel (-1: not in the table), categories
    (0: scalar), and the scalar scale. Indexing them with a token's feature id avoids any Python loop."""
    base = torch.full((FEATURE_IDS,), -1, dtype=torch.long)
    cats = torch.zeros(FEATURE_IDS, dtype=torch.long)
    scale = torch.zeros(FEATURE_IDS)
    base[: spec.num_features] = torch.tensor(spec.channel_base, dtype=torch.long)
    cats[: spec.num_features] = torch.tensor(spec.feature_categories, dtype=torch.long)
    scale[: spec.num_features] = torch.tensor(spec.feature_scales, dtype=torch.float32)
    return base, cats, scale


def one_hot_channel(base: torch.Tensor, raw: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
    """A token's input channel (or embedding row): base for a scalar feature, base + its value (clamped to
    the last category) for a categorical one."""
    return base + torch.where(categories > 0, torch.minimum(raw.long(), categories - 1), 0)


def token_channels(
    tokens: torch.Tensor, base: torch.Tensor, cats: torch.Tensor, window: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """[N, K, 3] tokens -> (row, col, channel, value (uint8), categorical, valid), each [N, K].

    A categorical token lands on channel base + value (clamped to its last category) with value 1; a
    scalar one on its feature's channel with its raw value. Global tokens sit on the agent's own cell.
    """
    loc = tokens[..., 0].long()
    feat = tokens[..., 1].long()
    raw = tokens[..., 2]
    centre = window // 2
    is_global = loc == GLOBAL
    row = torch.where(is_global, centre, loc >> 4)
    col = torch.where(is_global, centre, loc & 0x0F)
    b, k = base[feat], cats[feat]
    categorical = k > 0
    channel = one_hot_channel(b, raw, k)
    value = torch.where(categorical, torch.ones_like(raw), raw)
    valid = (loc != PADDING) & (b >= 0) & (row < window) & (col < window)
    return row, col, channel, value, categorical, valid


def tokens_to_box(
    tokens: torch.Tensor, spec: ObsSpec, tables: tuple[torch.Tensor, torch.Tensor] | None = None
) -> torch.Tensor:
    """[N, K, 3] uint8 tokens -> [N, W, W, C] uint8 box of `spec.num_channels` channels.

    Channels-last (NHWC) is the layout the CNN runs fastest in; keeping it in the stored box means the
    trainer's rollout storage preserves it and normalising needs no transposing copy. Padding and
    unknown features go to a scratch slot that is cut off afterwards.
    """
    base, cats = tables if tables is not None else channel_tables(spec)[:2]
    base, cats = base.to(tokens.device), cats.to(tokens.device)
    n = tokens.shape[0]
    window, channels = spec.window, spec.num_channels
    row, col, channel, value, _, valid = token_channels(tokens, base, cats, window)
    cell = row * window + col
    scratch = window * window * channels
    index = torch.where(valid, cell * channels + channel, scratch)
    box = torch.zeros(n, scratch + 1, dtype=torch.uint8, device=tokens.device)
    box.scatter_(1, index, value)
    return box[:, :scratch].view(n, window, window, channels)


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
    if (trained.feature_categories, trained.feature_scales) != (env.feature_categories, env.feature_scales):
        raise ObservationError(
            "this box (CNN) policy was trained with another encoding of observation values (categories and "
            "scales per feature); box encoders must be retrained when the encoding changes"
        )
    if trained.window != env.window:
        raise ObservationError(
            f"this box (CNN) policy was trained on a {trained.window}x{trained.window} window and the environment "
            f"has {env.window}x{env.window}; box encoders must be retrained when the window changes"
        )


class BoxNormalize(Component):
    """uint8 NHWC box -> float NCHW box (channels-last strides), each channel times its scale."""

    in_keys = ("obs",)
    out_keys = ("box",)

    def __init__(self, spec: ObsSpec):
        super().__init__()
        self.spec = spec
        inv = torch.tensor(spec.channel_scales, dtype=torch.float32)
        self.register_buffer("inv_norm", inv.view(1, -1, 1, 1), persistent=False)
        base, cats, _ = channel_tables(spec)
        self.register_buffer("channel_base", base, persistent=False)
        self.register_buffer("categories", cats, persistent=False)

    def adapt(self, env: ObsSpec) -> None:
        check_box_features(self.spec, env)

    def prepare(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens_to_box(tokens, self.spec, (self.channel_base, self.categories))

    def forward(self, td: TensorDict) -> TensorDict:
        # uint8 x float32 -> float32 in one pass; the permuted NHWC input keeps channels-last strides
        td["box"] = (td["obs"].permute(0, 3, 1, 2) * self.inv_norm).contiguous(memory_format=torch.channels_last)
        return td
