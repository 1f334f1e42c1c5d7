"""PPO numerics against naive loops."""

import math

import numpy as np
import pytest
import torch

from benchmark.training.ppo import compute_gae, logprob_entropy, ppo_loss, sample_actions


def naive_gae(rewards, values, dones, last_value, gamma, lam):
    steps, n = len(rewards), len(rewards[0])
    adv = np.zeros((steps, n))
    for i in range(n):
        running = 0.0
        for t in reversed(range(steps)):
            nxt = last_value[i] if t == steps - 1 else values[t + 1][i]
            nonterminal = 0.0 if dones[t][i] else 1.0
            delta = rewards[t][i] + gamma * nxt * nonterminal - values[t][i]
            running = delta + gamma * lam * nonterminal * running
            adv[t, i] = running
    return adv


def test_gae_matches_naive_loop_across_episode_ends():
    g = torch.Generator().manual_seed(0)
    r, v = torch.randn(9, 5, generator=g), torch.randn(9, 5, generator=g)
    d = torch.rand(9, 5, generator=g) < 0.25
    last = torch.randn(5, generator=g)
    adv, ret = compute_gae(r, v, d, last, 0.977, 0.891)
    expected = naive_gae(r.tolist(), v.tolist(), d.tolist(), last.tolist(), 0.977, 0.891)
    np.testing.assert_allclose(adv.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ret.numpy(), expected + v.numpy(), rtol=1e-5, atol=1e-6)


def test_gae_does_not_bootstrap_through_a_done():
    r = torch.tensor([[1.0], [0.0]])
    v = torch.zeros(2, 1)
    d = torch.tensor([[True], [False]])
    adv, _ = compute_gae(r, v, d, torch.tensor([100.0]), 0.9, 1.0)
    assert adv[0, 0].item() == pytest.approx(1.0)  # step 0 ended its episode: nothing after it counts
    assert adv[1, 0].item() == pytest.approx(90.0)


def test_ppo_loss_matches_hand_computation():
    g = torch.Generator().manual_seed(1)
    n = 64
    new_lp, old_lp = torch.randn(n, generator=g) * 0.3, torch.randn(n, generator=g) * 0.3
    adv, nv, ov, ret = (torch.randn(n, generator=g) for _ in range(4))
    ent = torch.rand(n, generator=g)
    loss, stats = ppo_loss(
        new_lp,
        old_lp,
        adv,
        nv,
        ov,
        ret,
        ent,
        clip=0.2,
        value_clip=0.1,
        value_coef=0.5,
        entropy_coef=0.01,
        normalize_advantages=True,
    )
    a = (adv - adv.mean()) / (adv.std() + 1e-8)
    pg, vl = 0.0, 0.0
    for i in range(n):
        ratio = math.exp(new_lp[i] - old_lp[i])
        pg += max(-a[i] * ratio, -a[i] * min(max(ratio, 0.8), 1.2))
        vc = ov[i] + min(max(nv[i] - ov[i], -0.1), 0.1)
        vl += max((nv[i] - ret[i]) ** 2, (vc - ret[i]) ** 2)
    expected = pg / n + 0.5 * 0.5 * vl / n - 0.01 * ent.mean()
    assert loss.item() == pytest.approx(float(expected), rel=1e-5)
    assert stats["policy_loss"].item() == pytest.approx(float(pg / n), rel=1e-5)


def test_sampling_follows_the_softmax_and_is_reproducible():
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.7]])).repeat(20000, 1)
    a1 = sample_actions(logits, torch.Generator().manual_seed(3))
    a2 = sample_actions(logits, torch.Generator().manual_seed(3))
    assert torch.equal(a1, a2)
    freq = torch.bincount(a1, minlength=3).float() / len(a1)
    np.testing.assert_allclose(freq.numpy(), [0.1, 0.2, 0.7], atol=0.015)


def test_logprob_and_entropy():
    logits = torch.tensor([[0.0, 0.0], [10.0, -10.0]])
    lp, ent = logprob_entropy(logits, torch.tensor([1, 0]))
    assert lp[0].item() == pytest.approx(math.log(0.5))
    assert ent[0].item() == pytest.approx(math.log(2))
    assert ent[1].item() < 1e-6
