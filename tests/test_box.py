"""Scattering tokens into the CNN's box, against a naive loop on real observations."""

import numpy as np
import torch

from benchmark.components.box import tokens_to_box
from benchmark.levels import LEVELS
from benchmark.training.vecenv import BatchedEnv


def naive_box(tokens: np.ndarray, features: int, window: int) -> np.ndarray:
    box = np.zeros((len(tokens), features, window, window), dtype=np.uint8)
    for n, agent in enumerate(tokens):
        for loc, feat, value in agent:
            if loc == 0xFF or feat >= features:
                continue
            r, c = (window // 2, window // 2) if loc == 0xFE else (loc >> 4, loc & 15)
            box[n, feat, r, c] = value
    return box


def test_box_matches_naive_scatter_on_real_observations():
    env = BatchedEnv(LEVELS["level_1_basic"], 2, run_seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        env.step(rng.integers(0, 5, env.num_rows))
    spec = env.spec
    got = tokens_to_box(torch.from_numpy(env.obs.copy()), spec.num_features, spec.window).permute(0, 3, 1, 2).numpy()
    want = naive_box(env.obs, spec.num_features, spec.window)
    assert want.any()
    np.testing.assert_array_equal(got, want)
    env.close()


def test_sparse_first_conv_equals_the_dense_cnn_on_real_observations():
    from tensordict import TensorDict

    from benchmark.components.box import BoxNormalize
    from benchmark.components.cnn import CNNEncoder, ScatterCNNEncoder

    env = BatchedEnv(LEVELS["level_1_basic"], 3, run_seed=0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        env.step(rng.integers(0, 5, env.num_rows))
    spec = env.spec
    torch.manual_seed(0)
    sparse = ScatterCNNEncoder(spec)
    dense = CNNEncoder(spec.num_features, spec.window)
    assert sparse.state_dict().keys() == dense.state_dict().keys()
    dense.load_state_dict(sparse.state_dict())
    tokens = torch.from_numpy(env.obs.copy())
    norm = BoxNormalize(spec)
    want = dense(norm(TensorDict({"obs": norm.prepare(tokens)}, batch_size=[len(tokens)])))["embed"]
    got = sparse(TensorDict({"obs": tokens}, batch_size=[len(tokens)]))["embed"]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    # gradients agree too
    want.sum().backward()
    got.sum().backward()
    torch.testing.assert_close(sparse.net[0].weight.grad, dense.net[0].weight.grad, atol=1e-4, rtol=1e-4)
    env.close()
