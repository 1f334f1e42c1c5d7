"""Token observation shim: strip padding, normalise values, remap feature ids to the trained table by name.

A token is [location, feature id, value] (uint8). The shim turns a batch [N, K, 3] into per-token tensors
trimmed to the longest row's valid tokens (observations hold 30-55 of 200 slots on level 1):
- `tok_feature` [N, L] long: index into the TRAINED table of input channels (`ObsSpec.channel_base`): a
  scalar feature has one row, a categorical one (an id: object tag, last action) a row per value, so
  "mine" and "wall" get their own embeddings instead of values 0.5 and 0.6 of one; features the
  environment has and the trained table lacks go to one reserved index (`unknown="reserve"`, the table
  then has one extra row) or are dropped (`unknown="drop"`);
- `tok_pos` [N, L, 2] float: (x, y) offset from the agent in half-windows of the trained window, so -1..1;
  global tokens (location 0xFE) sit on the agent's own cell;
- `tok_value` [N, L] float: value x the environment's scale of that feature (1 for categorical ones);
- `tok_mask` [N, L] bool: True for real tokens;
- `last_action` [N] long and `last_reward` [N] float (signed: `last_reward` less `last_penalty`), read from
  the global tokens of those names (zeros when the trained table has no such feature), for memories that
  make per-step tokens of them.

The remap tables are buffers derived from the specs (not saved): `adapt(env_spec)` rebuilds them, so a
checkpoint trained with one feature table reads an environment with another.
"""

from __future__ import annotations

from typing import Literal

import torch
from tensordict import TensorDict

from benchmark.components.base import Component, ObsSpec
from benchmark.components.box import FEATURE_IDS, GLOBAL, PADDING, one_hot_channel

DROPPED = -1


def distinct_tokens(key: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Distinct real tokens of a batch: `index` [N, L] (each slot's distinct token, numbered in order of first
    appearance; 0 for padding) and `first` [N, L] (True at each distinct token's first slot), so that
    `x[first]` is one row per distinct token and `x[first][index]` rebuilds every slot's row."""
    flat_mask = mask.reshape(-1)
    real = flat_mask.nonzero().squeeze(1)
    index = torch.zeros(key.numel(), dtype=torch.long, device=key.device)
    first = torch.zeros(key.numel(), dtype=torch.bool, device=key.device)
    if real.numel():
        _, inverse = torch.unique(key.reshape(-1)[real], return_inverse=True)
        count = int(inverse.max()) + 1
        position = torch.arange(real.numel(), device=key.device)
        first_at = torch.full((count,), real.numel(), dtype=torch.long, device=key.device)
        first_at = first_at.scatter_reduce(0, inverse, position, reduce="amin")
        rank = torch.empty_like(first_at)
        rank[first_at.argsort()] = torch.arange(count, device=key.device)
        index[real] = rank[inverse]
        first[real[first_at]] = True
    return index.view_as(key), first.view_as(mask)


class TokenShim(Component):
    in_keys = ("obs",)
    out_keys = (
        "tok_feature",
        "tok_pos",
        "tok_value",
        "tok_mask",
        "tok_index",
        "tok_first",
        "last_action",
        "last_reward",
    )

    def __init__(self, spec: ObsSpec, unknown: Literal["reserve", "drop"] = "reserve", distinct: bool = True):
        super().__init__()
        self.distinct = distinct  # emit tok_index / tok_first (off: every slot is computed, for comparisons)
        if spec.num_features >= FEATURE_IDS - 1:
            raise ValueError(f"{spec.num_features} features do not fit uint8 feature ids")
        self.trained = spec
        self.unknown = unknown
        self.table_size = spec.num_channels + (1 if unknown == "reserve" else 0)
        self.half = max(spec.window // 2, 1)
        names = spec.feature_names
        base = spec.channel_base
        self.last_action_index = base[names.index("last_action")] if "last_action" in names else DROPPED
        self.last_reward_index = base[names.index("last_reward")] if "last_reward" in names else DROPPED
        self.last_penalty_index = base[names.index("last_penalty")] if "last_penalty" in names else DROPPED
        self.register_buffer("feature_map", torch.zeros(FEATURE_IDS, dtype=torch.long), persistent=False)
        self.register_buffer("categories", torch.zeros(FEATURE_IDS, dtype=torch.long), persistent=False)
        self.register_buffer("inv_norm", torch.zeros(FEATURE_IDS), persistent=False)
        self.env_centre = self.half
        self.adapt(spec)

    def adapt(self, env: ObsSpec) -> None:
        """Map the environment's feature ids to the trained table by name; scale by the environment's spec."""
        trained = self.trained
        index = dict(zip(trained.feature_names, trained.channel_base, strict=True))
        cats = dict(zip(trained.feature_names, trained.feature_categories, strict=True))
        missing = DROPPED if self.unknown == "drop" else trained.num_channels
        fmap = torch.full((FEATURE_IDS,), DROPPED, dtype=torch.long)
        kmap = torch.zeros(FEATURE_IDS, dtype=torch.long)
        inv = torch.zeros(FEATURE_IDS)
        for env_id, (name, scale) in enumerate(zip(env.feature_names, env.feature_scales, strict=True)):
            fmap[env_id] = index.get(name, missing)
            kmap[env_id] = cats.get(name, 0)
            inv[env_id] = scale
        self.feature_map.copy_(fmap.to(self.feature_map.device))
        self.categories.copy_(kmap.to(self.categories.device))
        self.inv_norm.copy_(inv.to(self.inv_norm.device))
        self.env_centre = env.window // 2

    def forward(self, td: TensorDict) -> TensorDict:
        tokens = td["obs"]
        loc = tokens[..., 0].long()
        env_feature = tokens[..., 1].long()
        feature = self.feature_map[env_feature]
        mask = (loc != PADDING) & (feature != DROPPED)
        # strip padding: keep the first L slots, L = the most real tokens in a row; MettaGrid packs real
        # tokens first, so a (stable) sort is needed only when dropped features leave holes
        count = mask.sum(1)
        length = max(int(count.max()) if count.numel() else 1, 1)
        if bool(mask[:, length:].any()):
            order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
            loc, env_feature, feature, mask = (t.gather(1, order) for t in (loc, env_feature, feature, mask))
            tokens = tokens.gather(1, order.unsqueeze(-1).expand_as(tokens))
        loc, env_feature, feature, mask = (t[:, :length] for t in (loc, env_feature, feature, mask))
        raw = tokens[:, :length, 2]
        is_global = loc == GLOBAL
        centre = self.env_centre
        x = torch.where(is_global, centre, loc & 0x0F) - centre
        y = torch.where(is_global, centre, loc >> 4) - centre
        pos = torch.stack((x, y), dim=-1).float() / self.half
        k = self.categories[env_feature]
        categorical = k > 0
        value = torch.where(categorical, 1.0, raw.float() * self.inv_norm[env_feature])
        feature = feature.clamp(min=0)
        td["tok_feature"] = one_hot_channel(feature, raw, k)
        td["tok_pos"] = pos * mask.unsqueeze(-1)
        td["tok_value"] = value * mask
        td["tok_mask"] = mask
        # a batch holds few distinct tokens (level 1: ~2.8k distinct among 80k real and 127k slots in a
        # 2048-row minibatch): per-token work (embedding, LayerNorm, K/V projections) is done once per distinct one
        if self.distinct:
            key = (feature * 256 + loc.clamp(max=255)) * 256 + raw.long()
            td["tok_index"], td["tok_first"] = distinct_tokens(key, mask)
        td["last_action"] = self._global_value(raw.long(), feature, mask & is_global, self.last_action_index)
        on_agent = mask & is_global
        td["last_reward"] = self._global_value(value, feature, on_agent, self.last_reward_index) - self._global_value(
            value, feature, on_agent, self.last_penalty_index
        )
        return td

    @staticmethod
    def _global_value(values: torch.Tensor, feature: torch.Tensor, is_global: torch.Tensor, index: int) -> torch.Tensor:
        """The value of the global token with trained index `index` (0 where absent): [N, L] -> [N]."""
        if index == DROPPED:
            return torch.zeros(values.shape[0], dtype=values.dtype, device=values.device)
        hit = is_global & (feature == index)
        return (values * hit).sum(1)
