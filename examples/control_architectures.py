"""Controls for checking a comparison end to end: `fast` that cannot learn (learning rate 1e-7), and `fast` at
half its learning rate (a close comparison: same network, slower learning).

A benchmark that cannot tell a learning architecture from one that does not learn at all measures nothing; the
first entry is that check. Used by the adaptive demos in docs/adaptive.md:

    python benchmark/adaptive.py --experiment-id adaptive-demo --timesteps 400000 --local --adaptive \
        --architectures fast,fast_lstm_reset,fast_frozen --architectures-module examples/control_architectures.py ...

Over a short run Adam moves each weight by at most about lr per step (a few hundred steps here): the policy
stays at its initialisation, which plays about like the random baseline.
"""

from benchmark.architectures import ARCHITECTURES, register
from benchmark.training.config import TrainConfig

FAST = ARCHITECTURES["fast"]
FAST_LR = FAST.hints.learning_rate or TrainConfig.DEFAULTS["learning_rate"]

register(
    "fast_frozen",
    FAST.model_copy(
        update={
            "description": f"control: {FAST.description}, learning rate 1e-7 (does not learn)",
            "hints": FAST.hints.model_copy(update={"learning_rate": 1e-7}),
        }
    ),
)

register(
    "fast_half_lr",
    FAST.model_copy(
        update={
            "description": f"control: {FAST.description}, half the learning rate (learns more slowly)",
            "hints": FAST.hints.model_copy(update={"learning_rate": FAST_LR / 2}),
        }
    ),
)
