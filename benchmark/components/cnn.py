"""CNN encoder for box observations (the `fast` and `puffer` families), and puffer's centre-cell features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tensordict import TensorDict
from torch import nn

from benchmark.components.base import Component, ObsSpec
from benchmark.components.box import channel_tables, check_box_features, token_channels
from benchmark.components.init import layer_init


def conv_out(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


class CNNEncoder(Component):
    """conv(c1, k1, s1) -> ReLU -> conv(c2, k2, 1) -> ReLU -> flatten -> linear(out) -> ReLU."""

    in_keys = ("box",)
    out_keys = ("embed",)

    def __init__(
        self,
        in_channels: int,
        window: int,
        channels: tuple[int, int] = (64, 64),
        kernels: tuple[int, int] = (5, 3),
        stride: int = 3,
        out_dim: int = 128,
        out_key: str = "embed",
    ):
        super().__init__()
        self.out_keys = (out_key,)
        s1 = conv_out(window, kernels[0], stride)
        s2 = conv_out(s1, kernels[1], 1)
        if s1 < 1 or s2 < 1:
            raise ValueError(f"window {window} too small for kernels {kernels} with stride {stride} (sizes {s1}, {s2})")
        self.net = nn.Sequential(
            layer_init(nn.Conv2d(in_channels, channels[0], kernels[0], stride=stride)),
            nn.ReLU(),
            layer_init(nn.Conv2d(channels[0], channels[1], kernels[1], stride=1)),
            nn.ReLU(),
            nn.Flatten(),
            layer_init(nn.Linear(channels[1] * s2 * s2, out_dim)),
            nn.ReLU(),
        )
        self.net.to(memory_format=torch.channels_last)
        self.in_channels = in_channels
        self.out_dim = out_dim

    def forward(self, td: TensorDict) -> TensorDict:
        td[self.out_keys[0]] = self.net(td["box"])
        return td


class CentreCellEncoder(Component):
    """The agent's own cell of the box (its inventory and global features) -> linear -> ReLU (PufferLib)."""

    in_keys = ("box",)
    out_keys = ("self_embed",)

    def __init__(self, in_channels: int, window: int, out_dim: int):
        super().__init__()
        self.centre = window // 2
        self.net = nn.Sequential(layer_init(nn.Linear(in_channels, out_dim)), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, td: TensorDict) -> TensorDict:
        td["self_embed"] = self.net(td["box"][:, :, self.centre, self.centre])
        return td


class Concat(Component):
    """Concatenates feature vectors [N, d_i] into one [N, sum d_i]."""

    def __init__(self, in_keys: tuple[str, ...], out_key: str = "embed"):
        super().__init__()
        self.in_keys = tuple(in_keys)
        self.out_keys = (out_key,)

    def forward(self, td: TensorDict) -> TensorDict:
        td[self.out_keys[0]] = torch.cat([td[k] for k in self.in_keys], dim=-1)
        return td


class SparseRowsSum(torch.autograd.Function):
    """out[b] = sum over entries e with bag[e] == b of value[e] * table[row[e]], and its gradient for `table`.

    Both directions are one fused `embedding_bag` (entries grouped by output row going forward, by table row
    going back), never materialising an [entries, channels] tensor; torch's own embedding_bag backward is
    several times slower here.
    """

    @staticmethod
    def forward(ctx, table: torch.Tensor, row: torch.Tensor, bag: torch.Tensor, value: torch.Tensor, bags: int):
        order = torch.argsort(bag)
        bag_sorted = bag[order]
        offsets = torch.searchsorted(bag_sorted, torch.arange(bags, device=bag.device))
        ctx.save_for_backward(row, bag, value)
        ctx.table_rows = table.shape[0]
        return F.embedding_bag(row[order], table, offsets, mode="sum", per_sample_weights=value[order])

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        row, bag, value = ctx.saved_tensors
        order = torch.argsort(row)
        row_sorted = row[order]
        offsets = torch.searchsorted(row_sorted, torch.arange(ctx.table_rows, device=row.device))
        grad_table = F.embedding_bag(
            bag[order], grad_out.contiguous(), offsets, mode="sum", per_sample_weights=value[order]
        )
        return grad_table, None, None, None, None


class ScatterCNNEncoder(CNNEncoder):
    """CNNEncoder computed straight from tokens: the first convolution as a sparse sum over tokens.

    A window holds about 26 non-empty (feature, cell) entries of the 11x11x32 box, so scattering tokens into a
    dense box and convolving it spends almost all the first layer's work on zeros. Here each token adds its
    kernel slice to the (at most four) output positions whose receptive field covers its cell: the same
    function with the same parameters (its state dict equals CNNEncoder's), at a fraction of the cost. Two
    tokens naming the same feature of the same cell would be summed where the box keeps one; MettaGrid emits
    none (tested on real observations).
    """

    in_keys = ("obs",)

    def __init__(self, spec: ObsSpec, **kwargs):
        super().__init__(spec.num_channels, spec.window, **kwargs)
        conv: nn.Conv2d = self.net[0]
        k, s = conv.kernel_size[0], conv.stride[0]
        side = conv_out(spec.window, k, s)
        self.spec = spec
        self.window, self.kernel, self.side = spec.window, k, side
        out_pos = torch.zeros(spec.window * spec.window, 4, dtype=torch.long)
        k_off = torch.zeros_like(out_pos)
        ok = torch.zeros_like(out_pos, dtype=torch.bool)
        for r in range(spec.window):
            for c in range(spec.window):
                pairs = [
                    (i * side + j, (r - i * s) * k + (c - j * s))
                    for i in range(side)
                    for j in range(side)
                    if 0 <= r - i * s < k and 0 <= c - j * s < k
                ]
                if len(pairs) > 4:
                    raise ValueError(f"stride {s} with kernel {k}: a cell feeds {len(pairs)} outputs (at most 4)")
                for slot, (pos, off) in enumerate(pairs):
                    out_pos[r * spec.window + c, slot], k_off[r * spec.window + c, slot] = pos, off
                    ok[r * spec.window + c, slot] = True
        self.register_buffer("out_pos", out_pos, persistent=False)
        self.register_buffer("k_off", k_off, persistent=False)
        self.register_buffer("pair_ok", ok, persistent=False)
        base, cats, scale = channel_tables(spec)
        self.register_buffer("channel_base", base, persistent=False)
        self.register_buffer("categories", cats, persistent=False)
        self.register_buffer("scale", scale, persistent=False)

    def adapt(self, env: ObsSpec) -> None:
        check_box_features(self.spec, env)

    def first_conv(self, tokens: torch.Tensor) -> torch.Tensor:
        """[N, K, 3] uint8 tokens -> conv1 pre-activation [N, C1, side, side] (channels-last strides)."""
        n, k, _ = tokens.shape
        cell, channel, raw, categorical, valid = token_channels(tokens, self.channel_base, self.categories, self.window)
        valid &= categorical | (raw != 0)  # a zero scalar adds nothing
        idx = valid.view(-1).nonzero().squeeze(1)
        agent = idx // k
        f = channel.view(-1)[idx]
        cell = cell.view(-1)[idx]
        scale = torch.where(categorical.view(-1)[idx], 1.0, self.scale[tokens[..., 1].reshape(-1)[idx].long()])
        value = raw.reshape(-1)[idx].float() * scale
        pick = self.pair_ok[cell].view(-1).nonzero().squeeze(1)
        entry = pick // 4
        conv: nn.Conv2d = self.net[0]
        c1, kk, positions = conv.out_channels, self.kernel * self.kernel, self.side * self.side
        table = conv.weight.permute(1, 2, 3, 0).reshape(self.in_channels * kk, c1)  # row f*kk + dy*k + dx
        bag = agent[entry] * positions + self.out_pos[cell].view(-1)[pick]
        row = f[entry] * kk + self.k_off[cell].view(-1)[pick]
        out = SparseRowsSum.apply(table, row, bag, value[entry], n * positions)
        out = out + conv.bias
        return out.view(n, self.side, self.side, c1).permute(0, 3, 1, 2)

    def forward(self, td: TensorDict) -> TensorDict:
        td[self.out_keys[0]] = self.net[1:](self.first_conv(td["obs"]))
        return td
