"""Rolling out step by step (data collection) equals one training sequence, for every architecture.

Parametrized over the registry: a new architecture is tested for free. Exact memories (the reset-aware
LSTMs, every transformer memory, AGaLiTe) must agree across an episode end inside the sequence too, and
what follows an episode end must not depend on the episode before it. The fused LSTMs (vit, fast,
fast_dynamics, puffer) carry state across an episode end inside a training sequence, as the reference
suite's plain LSTMs did: they agree without a mid-sequence reset and differ with one (tested, by design).
"""

import pytest
import torch
from arch_helpers import collect_tokens, prepare, random_state, run_sequence, run_steps

from benchmark.architectures import ARCHITECTURES
from benchmark.policy import Policy

WARMUP, T, AFTER = 6, 12, 4  # steps before the compared sequence, its length, a continuation after it
ROWS = 12
ATOL = 1e-5


@pytest.fixture(scope="module")
def tokens():
    torch.set_num_threads(1)
    toks, spec = collect_tokens(WARMUP + T + AFTER)
    return toks[:ROWS], spec


def build(name: str, spec) -> Policy:
    torch.manual_seed(0)
    return Policy(ARCHITECTURES[name], spec).eval()


def warm(policy: Policy, x: torch.Tensor):
    """The state after a few real rollout steps (non-trivial: memory slots filled, LSTM state non-zero)."""
    reset = torch.zeros(x.shape[0], WARMUP, dtype=torch.bool)
    reset[:, 0] = True
    return run_steps(policy, x[:, :WARMUP], reset, policy.initial_state(x.shape[0]))[2]


def mid_resets() -> torch.Tensor:
    """Episode ends at different steps in different rows, none in the first few rows."""
    reset = torch.zeros(ROWS, T, dtype=torch.bool)
    for row in range(3, ROWS):
        reset[row, 2 + row % (T - 3)] = True
    reset[ROWS - 1, 5] = reset[ROWS - 1, 9] = True  # two episode ends in one row
    return reset


def first_reset(reset: torch.Tensor) -> torch.Tensor:
    t = torch.arange(reset.shape[1]).expand_as(reset)
    return torch.where(reset, t, reset.shape[1]).min(1).values


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_rollout_equals_sequence_without_episode_end(name, tokens):
    toks, spec = tokens
    policy = build(name, spec)
    x = prepare(policy, toks)
    state = warm(policy, x)
    seq = x[:, WARMUP : WARMUP + T]
    reset = torch.zeros(ROWS, T, dtype=torch.bool)
    la, va, sa = run_sequence(policy, seq, reset, state)
    lb, vb, sb = run_steps(policy, seq, reset, state)
    torch.testing.assert_close(la, lb, atol=ATOL, rtol=0)
    torch.testing.assert_close(va, vb, atol=ATOL, rtol=0)
    # the states after both agree too: a continuation gives the same outputs
    nxt = x[:, WARMUP + T :]
    no_reset = torch.zeros(ROWS, AFTER, dtype=torch.bool)
    torch.testing.assert_close(
        run_sequence(policy, nxt, no_reset, sa)[0], run_sequence(policy, nxt, no_reset, sb)[0], atol=ATOL, rtol=0
    )


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_episode_end_inside_a_sequence(name, tokens):
    """Exact memories: rollout == sequence across resets. Fused LSTMs: they differ after the reset."""
    toks, spec = tokens
    policy = build(name, spec)
    x = prepare(policy, toks)
    state = warm(policy, x)
    seq = x[:, WARMUP : WARMUP + T]
    reset = mid_resets()
    la, va, _ = run_sequence(policy, seq, reset, state)
    lb, vb, _ = run_steps(policy, seq, reset, state)
    if policy.memory is None or policy.memory.exact_reset:
        torch.testing.assert_close(la, lb, atol=ATOL, rtol=0)
        torch.testing.assert_close(va, vb, atol=ATOL, rtol=0)
    else:
        start = first_reset(reset)
        before = torch.arange(T) < start.unsqueeze(1)
        torch.testing.assert_close(la[before], lb[before], atol=ATOL, rtol=0)
        after = ~before
        diff = (va[after] - vb[after]).abs().amax()  # values: the actor's last layer is scaled by 0.01
        assert diff > 1e-4, f"{name}: the fused LSTM should carry state across the episode end (diff {diff})"


@pytest.mark.parametrize("name", [n for n, a in ARCHITECTURES.items() if a.memory is not None])
def test_nothing_crosses_an_episode_end(name, tokens):
    """After an episode end, outputs (and the state passed on) do not depend on the episode before it."""
    toks, spec = tokens
    policy = build(name, spec)
    if not policy.memory.exact_reset:
        pytest.skip("fused LSTM: reset only at sequence starts (see test_episode_end_inside_a_sequence)")
    x = prepare(policy, toks)
    state = warm(policy, x)
    seq = x[:, WARMUP : WARMUP + T]
    reset = mid_resets()
    rows = reset.any(1)
    start = first_reset(reset)
    before = torch.arange(T) < start.unsqueeze(1)  # [B, T]
    # another history: other rows' observations before the episode end, and a random state
    other = torch.where(before.view(ROWS, T, *[1] * (seq.dim() - 2)), seq.roll(shifts=1, dims=0), seq)
    other_state = random_state(state, seed=1)
    for run in (run_sequence, run_steps):
        la, va, sa = run(policy, seq, reset, state)
        lb, vb, sb = run(policy, other, reset, other_state)
        after = ~before & rows.unsqueeze(1)
        torch.testing.assert_close(la[after], lb[after], atol=1e-6, rtol=0)
        torch.testing.assert_close(va[after], vb[after], atol=1e-6, rtol=0)
        assert (va[before] - vb[before]).abs().amax() > 1e-4, "the perturbation changes the earlier episode"
        nxt = x[rows][:, WARMUP + T :]
        cont = torch.zeros(int(rows.sum()), AFTER, dtype=torch.bool)
        ca = run_sequence(policy, nxt, cont, sa[rows])[0]
        cb = run_sequence(policy, nxt, cont, sb[rows])[0]
        torch.testing.assert_close(ca, cb, atol=1e-6, rtol=0)
