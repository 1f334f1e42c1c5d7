"""CNN encoder for box observations (the `fast` and `puffer` families), and puffer's centre-cell features."""

from __future__ import annotations

import torch
from tensordict import TensorDict
from torch import nn

from benchmark.components.base import Component
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
