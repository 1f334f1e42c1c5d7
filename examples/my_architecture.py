"""A worked example: registering your own architectures in your own module.

Nothing in the benchmark needs to change. Pass this file (or a dotted module name) to any command:

    archbench list --architectures-module examples/my_architecture.py
    archbench train --architecture fast_small --architectures-module examples/my_architecture.py --timesteps 20000

Training records the module in its checkpoint, so `archbench evaluate --run DIR` loads it again by itself.
An architecture is a composition of component configs (benchmark/components/configs.py); `register`
raises if the name is taken, so an existing entry is never silently replaced.
"""

from benchmark.architectures import register
from benchmark.components.configs import CNNConfig, HeadsConfig, LSTMConfig, PerceiverConfig, TrXLConfig
from benchmark.policy import ArchitectureConfig, TrainerHints

# `fast` at half the width: a smaller CNN, a one-layer LSTM, smaller heads.
register(
    "fast_small",
    ArchitectureConfig(
        description="box -> CNN 32@5s3, 32@3 -> fc 64 -> LSTM 64 (fused) -> actor 256, critic 256",
        encoder=CNNConfig(channels=(32, 32), kernels=(5, 3), stride=3, out_dim=64),
        memory=LSTMConfig(hidden=64, layers=1),
        heads=HeadsConfig(actor_hidden=(256,), critic_hidden=(256,)),
    ),
)

# A token encoder with latent self-attention and a class token, feeding a two-layer Transformer-XL.
register(
    "vit_cls_trxl2",
    ArchitectureConfig(
        description="perceiver 8x48 with latent self-attention, cls pooling -> TrXL 48 wide, 2 layers -> heads",
        encoder=PerceiverConfig(
            latents=8, dim=48, heads=4, layers=1, ff_hidden=96, self_attention=True, cls_token=True, pool="cls"
        ),
        memory=TrXLConfig(dim=48, layers=2, heads=4, ff_hidden=96, memory=16),
        heads=HeadsConfig(actor_hidden=(128,), critic_hidden=(256,)),
        hints=TrainerHints(learning_rate=5e-4),
    ),
)
