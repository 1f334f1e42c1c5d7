"""Components against naive definitions: token shim, Fourier features, perceiver, window mask, attention."""

import math

import pytest
import torch
from arch_helpers import collect_tokens
from tensordict import TensorDict

from benchmark.components.configs import PerceiverConfig
from benchmark.components.fourier import FourierTokenEmbed, fourier_frequencies
from benchmark.components.perceiver import PerceiverEncoder
from benchmark.components.tokens import TokenShim
from benchmark.components.trxl import RelativeAttention
from benchmark.components.window import Window, episode_steps


@pytest.fixture(scope="module")
def real():
    tokens, spec = collect_tokens(3, num_sims=1)
    return tokens[:, -1], spec  # [12, K, 3]


def test_token_shim_matches_a_naive_reading(real):
    tokens, spec = real
    td = TokenShim(spec)(TensorDict({"obs": tokens}, batch_size=[tokens.shape[0]]))
    length = td["tok_mask"].shape[1]
    assert length == int((tokens[..., 0] != 0xFF).sum(1).max()) < tokens.shape[1], "padding is stripped"
    centre = spec.window // 2
    for n, row in enumerate(tokens.tolist()):
        real_tokens = [t for t in row if t[0] != 0xFF]
        assert int(td["tok_mask"][n].sum()) == len(real_tokens)
        for i, (loc, feat, value) in enumerate(real_tokens):
            r, c = (centre, centre) if loc == 0xFE else (loc >> 4, loc & 15)
            k = spec.feature_categories[feat]
            if k:  # an id: its own embedding row per value, input 1
                assert td["tok_feature"][n, i] == spec.channel_base[feat] + min(value, k - 1)
                assert td["tok_value"][n, i] == 1.0
            else:
                assert td["tok_feature"][n, i] == spec.channel_base[feat]
                torch.testing.assert_close(td["tok_value"][n, i], torch.tensor(value * spec.feature_scales[feat]))
            torch.testing.assert_close(td["tok_pos"][n, i], torch.tensor([c - centre, r - centre]) / centre)
            if loc == 0xFE and spec.feature_names[feat] == "last_action":
                assert td["last_action"][n] == value


def test_fourier_frequencies_are_configurable_and_span_the_window():
    f = fourier_frequencies(8, half_window=5)
    assert len(f) == 8 and math.isclose(f[0], math.pi, rel_tol=1e-6) and math.isclose(f[-1], 5 * math.pi, rel_tol=1e-6)
    assert FourierTokenEmbed(10, 5, feature_dim=16, frequencies=4).out_dim == 16 + 16 + 1
    assert PerceiverConfig(frequencies=4).frequencies == 4
    with pytest.raises(ValueError):
        fourier_frequencies(0, 5)


@pytest.mark.parametrize(
    "options", [{}, {"self_attention": True}, {"cls_token": True, "pool": "cls"}, {"cls_token": True}]
)
def test_perceiver_ignores_padding_and_token_order(options):
    torch.manual_seed(0)
    enc = PerceiverEncoder(token_dim=9, latents=4, dim=16, heads=2, layers=2, ff_hidden=32, **options).eval()
    tokens = torch.randn(3, 6, 9)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]], dtype=torch.bool)

    def embed(t, m):
        return enc(TensorDict({"tokens": t, "tok_mask": m}, batch_size=[3]))["embed"]

    base = embed(tokens, mask)
    noisy = torch.where(mask.unsqueeze(-1), tokens, torch.randn_like(tokens) * 100)  # garbage in padding
    torch.testing.assert_close(embed(noisy, mask), base)
    padded = torch.cat((tokens, torch.randn(3, 4, 9)), 1), torch.cat((mask, torch.zeros(3, 4, dtype=torch.bool)), 1)
    torch.testing.assert_close(embed(*padded), base, atol=1e-6, rtol=0)
    perm = torch.tensor([2, 0, 1, 5, 4, 3])
    torch.testing.assert_close(embed(tokens[0:1, perm].expand(3, -1, -1), mask[0:1].expand(3, -1))[0], base[0])


def naive_allowed(valid: torch.Tensor, reset: torch.Tensor) -> torch.Tensor:
    """Step t may see memory slot / step j: itself or one of the previous M steps, same episode, real."""
    b, m = valid.shape
    t_len = reset.shape[1]
    out = torch.zeros(b, t_len, m + t_len, dtype=torch.bool)
    for row in range(b):
        for t in range(t_len):
            start = max((s for s in range(t + 1) if reset[row, s]), default=None)
            for j in range(m + t_len):
                back = m + t - j
                if not 0 <= back <= m:
                    continue
                if j < m:  # a memory slot: only if no reset since the call began, and the slot is real
                    ok = start is None and bool(valid[row, j])
                else:
                    ok = start is None or j - m >= start
                out[row, t, j] = ok
    return out


def test_window_mask_matches_the_naive_definition():
    gen = torch.Generator().manual_seed(0)
    valid = torch.rand(6, 4, generator=gen) > 0.3
    reset = torch.rand(6, 7, generator=gen) > 0.75
    w = Window(valid, reset)
    assert torch.equal(w.mask, naive_allowed(valid, reset))
    # the slots kept: the last 4 steps, valid when of the last step's episode
    for row in range(6):
        last_start = max((s for s in range(7) if reset[row, s]), default=-1)
        want = [3 + i >= last_start for i in range(4)]
        assert w.next_valid()[row].tolist() == want
    w3 = Window(valid, reset, tokens_per_step=3)
    assert torch.equal(w3.mask[:, ::3, ::3], w.mask) and torch.equal(w3.mask[:, 2::3, 1::3], w.mask)


def test_episode_steps_count_from_each_episode_start():
    reset = torch.tensor([[0, 0, 1, 0, 0, 1, 1], [1, 0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    steps, after = episode_steps(reset, torch.tensor([10, 4]))
    assert steps.tolist() == [[10, 11, 0, 1, 2, 0, 0], [0, 1, 2, 3, 4, 5, 6]]
    assert after.tolist() == [1, 7]


def test_relative_attention_matches_a_naive_loop():
    torch.manual_seed(0)
    dim, heads, memory = 8, 2, 3
    attn = RelativeAttention(dim, heads, memory)
    torch.nn.init.normal_(attn.u)
    torch.nn.init.normal_(attn.v)
    valid = torch.tensor([[True, True, True], [False, True, True]])
    reset = torch.tensor([[False, False, True, False], [False, False, False, False]])
    window = Window(valid, reset)
    h, ctx = torch.randn(2, 4, dim), torch.randn(2, 7, dim)
    got = attn(h, ctx, window)
    d = dim // heads
    q = attn.q(h).view(2, 4, heads, d)
    k, v = (x.view(2, 7, heads, d) for x in attn.kv(ctx).chunk(2, -1))
    r = attn.r(attn.distances).view(memory + 1, heads, d)
    want = torch.zeros(2, 4, heads, d)
    for b in range(2):
        for i in range(4):
            for hh in range(heads):
                scores = []
                for j in range(7):
                    dist = memory + i - j
                    if not window.mask[b, i, j]:
                        scores.append(float("-inf"))
                        continue
                    s = (q[b, i, hh] + attn.u[hh, 0]) @ k[b, j, hh] + (q[b, i, hh] + attn.v[hh, 0]) @ r[dist, hh]
                    scores.append(s / math.sqrt(d))
                weights = torch.softmax(torch.stack([torch.as_tensor(s) for s in scores]), 0)
                want[b, i, hh] = weights @ v[b, :, hh]
    torch.testing.assert_close(got, attn.out(want.flatten(-2)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("autocast", [False, True])
def test_shared_query_attention_equals_per_slot_attention(autocast):
    """A perceiver's first layer scores each distinct token once (`attend_shared`): the same outputs and
    gradients as attending from every row over its gathered slots, masked slots ignored."""
    from benchmark.components.attention import Attention, gather_rows

    torch.manual_seed(0)
    attention = Attention(16, 24, 16, heads=4)
    latents = torch.randn(1, 3, 16, requires_grad=True)
    kv_rows = torch.randn(9, 24).requires_grad_()
    index = torch.randint(0, 9, (5, 7))
    mask = torch.rand(5, 1, 7) < 0.6
    mask[:, :, 0] = True
    results = []
    for shared in (True, False):
        attention.zero_grad()
        latents.grad = kv_rows.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            kv = attention.kv(kv_rows)
            if shared:
                y = attention.attend_shared(latents, kv, index, mask)
            else:
                y = attention.attend(latents.expand(5, -1, -1), gather_rows(kv, index), mask)
        (y.float() * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        results.append((y.float().detach(), latents.grad.clone(), kv_rows.grad.clone()))
    tol = 2e-2 if autocast else 1e-5  # bf16 projections round to ~3 digits
    for a, b in zip(*results, strict=True):
        assert torch.allclose(a, b, atol=tol), (a - b).abs().max()
    assert results[0][0].shape == (5, 3, 16)
    # a masked slot does not count: changing what it points at changes nothing
    other = index.clone()
    other[~mask[:, 0]] = 0
    with torch.no_grad():
        kv = attention.kv(kv_rows)
        assert torch.allclose(attention.attend_shared(latents, kv, other, mask), results[0][0], atol=tol)


@pytest.mark.parametrize("name", ["vit", "transformer", "agalite", "vit+token_mlp"])
def test_distinct_token_path_equals_computing_every_slot(name):
    """Embedding, LayerNorm and K/V once per distinct token is the same function as once per slot,
    gradients included; and a batch really holds far fewer distinct tokens than real ones."""
    from benchmark.architectures import ARCHITECTURES
    from benchmark.components.tokens import distinct_tokens
    from benchmark.policy import Policy

    tokens, spec = collect_tokens(4, num_sims=1)
    torch.manual_seed(0)
    base, _, option = name.partition("+")
    arch = ARCHITECTURES[base]
    if option:  # the per-token MLP also runs once per distinct token
        arch = arch.model_copy(update={"encoder": arch.encoder.model_copy(update={"token_mlp": 48})})
    policy = Policy(arch, spec)
    assert not option or policy.encoder[1].out_dim == 48
    obs = policy.prepare(tokens.flatten(0, 1)).view(*tokens.shape[:2], *tokens.shape[2:])
    reset = torch.zeros(obs.shape[:2], dtype=torch.bool)
    outputs = {}
    for distinct in (True, False):
        policy.encoder[0].distinct = distinct
        policy.zero_grad()
        out, _ = policy(obs, reset, policy.initial_state(obs.shape[0]))
        (out["logits"].square().sum() + out["value"].sum()).backward()
        grads = [p.grad.clone() for p in policy.parameters() if p.grad is not None]
        outputs[distinct] = (out["logits"].detach(), out["value"].detach(), grads)
    (la, va, ga), (lb, vb, gb) = outputs[True], outputs[False]
    assert torch.allclose(la, lb, atol=1e-5) and torch.allclose(va, vb, atol=1e-5)
    # the encoder's gradients agree to ~1e-6 relative; agalite's memory amplifies rounding (at this
    # initialisation, scaling its input by 1 + 1e-6 noise moves its gradients by ~6e-3)
    tol = 1e-2 if base == "agalite" else 1e-4
    assert len(ga) == len(gb) and all(torch.allclose(a, b, atol=tol) for a, b in zip(ga, gb, strict=True))
    policy.encoder[0].distinct = True
    td = policy.encoder[0](TensorDict({"obs": obs.flatten(0, 1)}, batch_size=[obs.shape[0] * obs.shape[1]]))
    index, first = distinct_tokens(td["tok_index"], td["tok_mask"])
    assert int(first.sum()) < int(td["tok_mask"].sum()) / 2  # (a 2048-row minibatch: ~1 in 30)
    assert torch.equal(index, td["tok_index"])  # numbering by first appearance is stable
