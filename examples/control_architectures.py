"""A negative control: `fast` that cannot learn (learning rate 1e-7), for checking a comparison end to end.

A benchmark that cannot tell a learning architecture from one that does not learn at all measures nothing; this
entry is that check. Used by the adaptive demo in docs/adaptive.md:

    python benchmark/adaptive.py --experiment-id adaptive-demo --timesteps 400000 --local --adaptive \
        --architectures fast,fast_lstm_reset,fast_frozen --architectures-module examples/control_architectures.py ...

Over a short run Adam moves each weight by at most about lr per step (a few hundred steps here): the policy
stays at its initialisation, which plays about like the random baseline.
"""

from benchmark.architectures import ARCHITECTURES, register

FAST = ARCHITECTURES["fast"]

register(
    "fast_frozen",
    FAST.model_copy(
        update={
            "description": f"control: {FAST.description}, learning rate 1e-7 (does not learn)",
            "hints": FAST.hints.model_copy(update={"learning_rate": 1e-7}),
        }
    ),
)
