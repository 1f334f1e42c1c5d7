"""CNN encoder for box observations (the `fast` and `puffer` families), and puffer's centre-cell features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tensordict import TensorDict
from torch import nn

from benchmark.components.base import Component, ObsSpec
from benchmark.components.box import PADDING, channel_tables, check_box_features, token_channels
from benchmark.components.conv1_entries import compiled_entries
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
        self.whole_input_conv2 = s2 == 1

    def after_first_conv(self, x: torch.Tensor) -> torch.Tensor:
        """Everything after conv1's pre-activation [N, C1, s1, s1] (channels-last strides) -> [N, out]."""
        x = F.relu(x)
        conv2: nn.Conv2d = self.net[2]
        if self.whole_input_conv2:
            # the kernel covers the whole input: a plain matrix product on the NHWC view, the same function
            # (same parameters) but several times faster than the convolution's backward on CPU
            w = conv2.weight.permute(0, 2, 3, 1).reshape(conv2.out_channels, -1)
            x = F.linear(x.permute(0, 2, 3, 1).reshape(x.shape[0], -1), w, conv2.bias)
        else:
            x = conv2(x).flatten(1)
        return self.net[5:](F.relu(x))

    def forward(self, td: TensorDict) -> TensorDict:
        td[self.out_keys[0]] = self.after_first_conv(self.net[0](td["box"]))
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

    Entries must come grouped by bag in ascending order (the caller generates them that way, so the forward,
    which runs at every rollout step, never sorts). Both directions are one fused `embedding_bag` (entries
    grouped by output row going forward, by table row going back, one sort per minibatch), never
    materialising an [entries, channels] tensor; torch's own embedding_bag backward is several times slower.
    """

    @staticmethod
    def forward(
        ctx,
        table: torch.Tensor,
        row: torch.Tensor,
        bag: torch.Tensor,
        value: torch.Tensor,
        bags: int,
        offsets: torch.Tensor | None = None,
    ):
        if offsets is None:
            offsets = torch.searchsorted(bag, torch.arange(bags, device=bag.device))
        ctx.save_for_backward(row, bag, value)
        ctx.table_rows = table.shape[0]
        return F.embedding_bag(row, table, offsets, mode="sum", per_sample_weights=value)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        row, bag, value = ctx.saved_tensors
        order = torch.argsort(row)
        row_sorted = row[order]
        offsets = torch.searchsorted(row_sorted, torch.arange(ctx.table_rows, device=row.device))
        grad_table = F.embedding_bag(
            bag[order], grad_out.contiguous(), offsets, mode="sum", per_sample_weights=value[order]
        )
        return grad_table, None, None, None, None, None


class ScatterCNNEncoder(CNNEncoder):
    """CNNEncoder computed straight from tokens: the first convolution as a sparse sum over tokens.

    A window holds about 30-50 non-empty (channel, cell) entries of the 11x11x51 box, so scattering tokens into a
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
        self.stride = s
        base, cats, scale = channel_tables(spec)
        self.register_buffer("channel_base", base, persistent=False)
        self.register_buffer("categories", cats, persistent=False)
        self.register_buffer("scale", scale, persistent=False)
        self._np_tables = (base.numpy(), cats.numpy(), scale.numpy())  # for the compiled CPU path

    def adapt(self, env: ObsSpec) -> None:
        check_box_features(self.spec, env)

    def first_conv(self, tokens: torch.Tensor) -> torch.Tensor:
        """[N, K, 3] uint8 tokens -> conv1 pre-activation [N, C1, side, side] (channels-last strides).

        Each (output position, agent) is a bag of the tokens whose cell lies in that position's receptive
        field, each adding value x its kernel slice. The entries come grouped by bag, so no sort is needed:
        from one compiled loop on CPU (`compiled_entries`), from `entries` (torch ops) elsewhere.
        """
        n = tokens.shape[0]
        conv: nn.Conv2d = self.net[0]
        k, s, side = self.kernel, self.stride, self.side
        c1, positions = conv.out_channels, side * side
        table = conv.weight.permute(1, 2, 3, 0).reshape(self.in_channels * k * k, c1)  # row f*k*k + dy*k + dx
        compiled = compiled_entries() if tokens.device.type == "cpu" else None
        if compiled is not None:
            entries = compiled(tokens.numpy(), *self._np_tables, self.window, k, s, side)
            table_row, bag, weight, offsets = (torch.from_numpy(x) for x in entries)
        else:
            table_row, bag, weight = self.entries(tokens)
            offsets = None
        out = SparseRowsSum.apply(table, table_row, bag, weight, positions * n, offsets) + conv.bias
        out = out.view(positions, n, c1).transpose(0, 1).contiguous()
        return out.view(n, side, side, c1).permute(0, 3, 1, 2)

    def entries(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(table row, bag, weight) per entry, grouped by bag = position * N + agent: the torch path (any device)."""
        real = (tokens[..., 0] != PADDING).any(0)  # trailing all-padding slots (most of the 200) are cut
        length = int(real.nonzero().max()) + 1 if bool(real.any()) else 1
        tokens = tokens[:, :length]
        row, col, channel, raw, categorical, valid = token_channels(
            tokens, self.channel_base, self.categories, self.window
        )
        valid &= categorical | (raw != 0)  # a zero scalar adds nothing
        weight = raw.float() * torch.where(categorical, 1.0, self.scale[tokens[..., 1].long()])
        n = tokens.shape[0]
        k, s, side = self.kernel, self.stride, self.side
        positions = side * side
        # output row i sees input rows i*s .. i*s+k-1 (columns likewise): hit masks by broadcasting, no lookups
        row = torch.where(valid, row, -k)  # an invalid token is in no receptive field
        start = torch.arange(side, device=tokens.device).view(side, 1, 1) * s
        dy, dx = row.unsqueeze(0) - start, col.unsqueeze(0) - start  # [side, N, L]
        row_hit, col_hit = (dy >= 0) & (dy < k), (dx >= 0) & (dx < k)
        hit = (row_hit.unsqueeze(1) & col_hit.unsqueeze(0)).view(positions, n, length)
        pos, flat = hit.view(positions, -1).nonzero().unbind(1)  # sorted by (position, agent): grouped by bag
        i, j = pos // side, pos % side
        entry_row, entry_col = row.view(-1)[flat], col.view(-1)[flat]
        table_row = channel.view(-1)[flat] * (k * k) + (entry_row - i * s) * k + (entry_col - j * s)
        bag = pos * n + flat // length
        return table_row, bag, weight.view(-1)[flat]

    def forward(self, td: TensorDict) -> TensorDict:
        td[self.out_keys[0]] = self.after_first_conv(self.first_conv(td["obs"]))
        return td
