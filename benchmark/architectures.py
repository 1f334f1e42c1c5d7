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

from benchmark.components.configs import CNNConfig, HeadsConfig, LSTMConfig
from benchmark.policy import ArchitectureConfig

ARCHITECTURES: dict[str, ArchitectureConfig] = {
    "fast": ArchitectureConfig(
        description="tokens -> box -> CNN 64@5s3, 64@3 -> fc 128 -> LSTM 128x2 (fused) -> actor 512, critic 1024",
        encoder=CNNConfig(channels=(64, 64), kernels=(5, 3), stride=3, out_dim=128),
        memory=LSTMConfig(hidden=128, layers=2),
        heads=HeadsConfig(actor_hidden=(512,), critic_hidden=(1024,)),
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
        raise KeyError(f"unknown architecture {name!r}; valid: {', '.join(ARCHITECTURES)}") from None


def load_architectures_module(spec: str) -> None:
    """Import a user module (a dotted name or a .py path) whose import registers architectures."""
    path = Path(spec)
    if spec.endswith(".py"):
        if not path.is_file():
            raise FileNotFoundError(f"architectures module {spec!r} does not exist")
        name = f"archbench_user_{path.stem}"
        if name in sys.modules:
            return
        module_spec = importlib.util.spec_from_file_location(name, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    else:
        importlib.import_module(spec)
