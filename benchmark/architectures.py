"""The architecture registry: a plain dict of configs. Adding an architecture is one entry.

Users register their own in a module passed with `--architectures-module` (see README):

    from benchmark.architectures import register
    register("my_arch", ArchitectureConfig(...))
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from benchmark.components.configs import (
    AGaLiTeConfig,
    CNNConfig,
    GTrXLConfig,
    HeadsConfig,
    LSTMConfig,
    PerceiverConfig,
    PufferConfig,
    SlidingWindowConfig,
    TransformerConfig,
    TrXLConfig,
)
from benchmark.errors import unknown_name
from benchmark.policy import ArchitectureConfig, TrainerHints

# shared pieces of the reference chains (configs are frozen values: sharing them is safe)
FAST_CNN = CNNConfig(channels=(64, 64), kernels=(5, 3), stride=3, out_dim=128)
FAST_HEADS = HeadsConfig(actor_hidden=(512,), critic_hidden=(1024,))
VIT_ENCODER = PerceiverConfig(latents=12, dim=64, heads=4, layers=2, frequencies=8)
VIT_HEADS = HeadsConfig(actor_hidden=(256, 256), critic_hidden=(512,))
# bf16 autocast ("auto" precision) on CPUs with native bf16: the CNN family trains 1.3-1.6x faster; with the
# attention itself kept in fp32 (components/attention.py: CPU bf16 attention backward is slow) the perceiver-encoded
# ones 1.2x (vit 1.21x, trxl 1.17x, 2 threads, one quiet run) and agalite as fast as in fp32 (1.00x), so all ask
# for it. `benchmarks/architectures.py --precision fp32|bf16` measures it; docs/calibration.md has the figures.
BF16_HINTS = TrainerHints(cpu_bf16=True)
# Attention memories are usually trained with a lower learning rate than LSTMs (CleanRL's TrXL uses 2.75e-4);
# 5e-4 learned on level 1 (`transformer`: 3.24x random reward at 2M, docs/calibration.md)
ATTENTION_HINTS = TrainerHints(learning_rate=5e-4, cpu_bf16=True)

ARCHITECTURES: dict[str, ArchitectureConfig] = {
    "fast": ArchitectureConfig(
        description="tokens -> box -> CNN 64@5s3, 64@3 -> fc 128 -> LSTM 128x2 (fused) -> actor 512, critic 1024",
        encoder=FAST_CNN,
        memory=LSTMConfig(hidden=128, layers=2),
        heads=FAST_HEADS,
        hints=BF16_HINTS,
    ),
    "fast_lstm_reset": ArchitectureConfig(
        description="fast with the reset-aware LSTM (state zeroed at episode ends inside training sequences)",
        encoder=FAST_CNN,
        memory=LSTMConfig(hidden=128, layers=2, reset_in_sequence=True),
        heads=FAST_HEADS,
        hints=BF16_HINTS,
    ),
    "fast_dynamics": ArchitectureConfig(
        description="fast + reward and return prediction heads trained by their own loss (weight 0.5)",
        encoder=FAST_CNN,
        memory=LSTMConfig(hidden=128, layers=2),
        heads=HeadsConfig(actor_hidden=(512,), critic_hidden=(1024,), dynamics=True),
        hints=BF16_HINTS,
    ),
    "puffer": ArchitectureConfig(
        description="PufferLib default: box -> CNN 128@5s3, 128@3 -> 256 + centre-cell features -> 256 "
        "-> LSTM 512 (fused) -> linear heads",
        encoder=PufferConfig(),
        memory=LSTMConfig(hidden=512, layers=1),
        heads=HeadsConfig(actor_hidden=(), critic_hidden=()),
        hints=BF16_HINTS,
    ),
    "vit": ArchitectureConfig(
        description="tokens -> feature embed + Fourier xy + value -> perceiver 12x64, 4 heads, 2 layers, mean "
        "-> LSTM 32 (fused) -> actor 256x2, critic 512",
        encoder=VIT_ENCODER,
        memory=LSTMConfig(hidden=32),
        heads=VIT_HEADS,
        hints=BF16_HINTS,
    ),
    "vit_reset": ArchitectureConfig(
        description="vit with the reset-aware LSTM 32",
        encoder=VIT_ENCODER,
        memory=LSTMConfig(hidden=32, reset_in_sequence=True),
        heads=VIT_HEADS,
        hints=BF16_HINTS,
    ),
    "vit_sliding": ArchitectureConfig(
        description="vit encoder -> sliding-window transformer (obs, last reward, last action tokens per step; "
        "32 wide, 2 layers, KV cache 80 tokens = 26 steps) -> vit heads",
        encoder=VIT_ENCODER,
        memory=SlidingWindowConfig(dim=32, layers=2, heads=2, ff_hidden=64, cache_tokens=80),
        heads=VIT_HEADS,
        hints=ATTENTION_HINTS,
    ),
    "transformer": ArchitectureConfig(
        description="perceiver (1 layer) -> plain pre-norm causal transformer (64 wide, 2 layers, 4 heads, "
        "learned positions, no gating, 32 steps) -> vit heads",
        encoder=VIT_ENCODER.model_copy(update={"layers": 1}),
        memory=TransformerConfig(dim=64, layers=2, heads=4, ff_hidden=128, memory=32),
        heads=VIT_HEADS,
        hints=ATTENTION_HINTS,
    ),
    "gtrxl": ArchitectureConfig(
        description="vit encoder -> GTrXL (GRU gates, bias 2, pre-norm, relative attention; 32 wide, 1 layer, "
        "2 heads, d_ff 128, memory 32) -> vit heads",
        encoder=VIT_ENCODER,
        memory=GTrXLConfig(dim=32, layers=1, heads=2, ff_hidden=128, memory=32, gate_bias=2.0),
        heads=VIT_HEADS,
        hints=ATTENTION_HINTS,
    ),
    "trxl": ArchitectureConfig(
        description="vit encoder -> Transformer-XL (relative attention with u/v biases, pre-norm; 32 wide, "
        "1 layer, 2 heads, d_ff 128, memory 32) -> vit heads",
        encoder=VIT_ENCODER,
        memory=TrXLConfig(dim=32, layers=1, heads=2, ff_hidden=128, memory=32),
        heads=VIT_HEADS,
        hints=ATTENTION_HINTS,
    ),
    "trxl_nvidia": ArchitectureConfig(
        description="vit encoder -> NVIDIA-style Transformer-XL (post-norm; 40 wide, 1 layer, 2 heads, d_ff 160, "
        "memory 16) -> vit heads",
        encoder=VIT_ENCODER,
        memory=TrXLConfig(dim=40, layers=1, heads=2, ff_hidden=160, memory=16, post_norm=True),
        heads=VIT_HEADS,
        hints=ATTENTION_HINTS,
    ),
    "agalite": ArchitectureConfig(
        description="vit encoder -> AGaLiTe (gated linear attention; 32 wide, 3 layers, 4 heads, eta 6, rank 2) "
        "-> vit heads",
        encoder=VIT_ENCODER,
        memory=AGaLiTeConfig(dim=32, layers=3, heads=4, head_dim=8, eta=6, rank=2, ff_hidden=128),
        heads=VIT_HEADS,
        hints=ATTENTION_HINTS,
    ),
    "memory_free": ArchitectureConfig(
        description="vit encoder -> vit heads, no recurrence",
        encoder=VIT_ENCODER,
        memory=None,
        heads=VIT_HEADS,
        hints=BF16_HINTS,
    ),
}


def register(name: str, config: ArchitectureConfig) -> None:
    """Add an architecture. Re-registering a name raises: a silent override corrupts a comparison."""
    if name in ARCHITECTURES:
        raise ValueError(f"architecture {name!r} is already registered")
    if not name.replace("_", "").isalnum() or not name[0].isalpha() or name.lower() != name:
        raise ValueError(f"architecture name {name!r} must be snake_case (letters, digits, underscores)")
    if not isinstance(config, ArchitectureConfig):
        raise TypeError(f"architecture {name!r} needs an ArchitectureConfig, got {type(config).__name__}")
    ARCHITECTURES[name] = config


def get_architecture(name: str) -> ArchitectureConfig:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise KeyError(unknown_name("architecture", name, ARCHITECTURES)) from None


def module_reference(spec: str) -> str:
    """How to name a user module so that any process finds it: a .py path made absolute; a dotted name that
    imports as it is; else a dotted name that is a file under the working directory (`my_arch` ->
    ./my_arch.py: `archbench` does not put the working directory on sys.path), as that file's absolute path."""
    if spec.endswith(".py"):
        return str(Path(spec).resolve())
    try:
        if importlib.util.find_spec(spec) is not None:
            return spec
    except (ImportError, ValueError):
        pass
    local = Path.cwd() / (spec.replace(".", "/") + ".py")
    return str(local) if local.is_file() else spec


def load_architectures_module(spec: str) -> None:
    """Import a user module (a dotted name, a .py path, or a module file in the working directory) whose
    import registers architectures."""
    given, spec = spec, module_reference(spec)
    path = Path(spec)
    if spec.endswith(".py"):
        if not path.is_file():
            raise FileNotFoundError(f"architectures module {given!r} does not exist")
        name = f"archbench_user_{path.stem}"
        if name in sys.modules:
            return
        module_spec = importlib.util.spec_from_file_location(name, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    else:
        try:
            importlib.import_module(spec)
        except ImportError as exc:
            raise FileNotFoundError(
                f"architectures module {spec!r} cannot be imported ({exc}), nor is there a {spec.replace('.', '/')}.py "
                "in the working directory"
            ) from None
