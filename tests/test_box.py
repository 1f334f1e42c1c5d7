"""Scattering tokens into the CNN's box, against a naive loop on real observations."""

import numpy as np
import torch

from benchmark.components.box import tokens_to_box
from benchmark.levels import LEVELS
from benchmark.training.vecenv import BatchedEnv


def naive_box(tokens: np.ndarray, spec) -> np.ndarray:
    window = spec.window
    box = np.zeros((len(tokens), spec.num_channels, window, window), dtype=np.uint8)
    for n, agent in enumerate(tokens):
        for loc, feat, value in agent:
            if loc == 0xFF or feat >= spec.num_features:
                continue
            r, c = (window // 2, window // 2) if loc == 0xFE else (loc >> 4, loc & 15)
            k = spec.feature_categories[feat]
            if k:
                box[n, spec.channel_base[feat] + min(int(value), k - 1), r, c] = 1
            else:
                box[n, spec.channel_base[feat], r, c] = value
    return box


def test_box_matches_naive_scatter_on_real_observations():
    env = BatchedEnv(LEVELS["level_1_basic"], 2, run_seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        env.step(rng.integers(0, 5, env.num_rows))
    spec = env.spec
    got = tokens_to_box(torch.from_numpy(env.obs.copy()), spec).permute(0, 3, 1, 2).numpy()
    want = naive_box(env.obs, spec)
    assert want.any()
    np.testing.assert_array_equal(got, want)
    # ids are one-hot: every agent sees itself (tag "type:agent" = 0) on its own cell
    tag = spec.feature_names.index("tag")
    centre = spec.window // 2
    assert (got[:, spec.channel_base[tag], centre, centre] == 1).all()
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
    dense = CNNEncoder(spec.num_channels, spec.window)
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


def test_value_encoding_makes_ids_one_hot_and_single_items_visible():
    env = BatchedEnv(LEVELS["level_1_basic"], 1, run_seed=0)
    spec = env.spec
    env.close()
    cats = dict(zip(spec.feature_names, spec.feature_categories, strict=True))
    scales = dict(zip(spec.feature_names, spec.feature_scales, strict=True))
    assert cats["tag"] == 7  # agent, altar, armory, generator, lasery, mine, wall
    assert cats["last_action"] == spec.num_actions
    assert cats["inv:ore"] == 0 and scales["inv:ore"] == 0.125  # one ore = 0.125, not MettaGrid's 1/256
    assert scales["inv:ore:p1"] == 256 / 8
    assert spec.num_channels == spec.num_features + sum(k - 1 for k in spec.feature_categories if k)


def test_second_conv_as_a_matrix_product_equals_the_convolution():
    """CNNEncoder runs conv2 as a linear layer when its kernel covers its whole input: same function, same grads."""
    from benchmark.components.cnn import CNNEncoder

    torch.manual_seed(0)
    enc = CNNEncoder(51, 11)
    assert enc.whole_input_conv2
    box = torch.rand(6, 51, 11, 11).contiguous(memory_format=torch.channels_last)
    got = enc.after_first_conv(enc.net[0](box))
    got.sum().backward()
    got_grad = enc.net[2].weight.grad.clone()
    enc.zero_grad()
    want = enc.net(box)  # the plain Sequential: conv1, ReLU, conv2, ReLU, flatten, linear, ReLU
    want.sum().backward()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got_grad, enc.net[2].weight.grad, atol=1e-5, rtol=1e-4)


def test_compiled_conv1_entries_equal_the_torch_path_on_real_observations(monkeypatch):
    from benchmark.components import cnn
    from benchmark.components.cnn import ScatterCNNEncoder

    compiled = cnn.compiled_entries()
    assert compiled is not None, "numba is a dependency: the CPU path must be the compiled one"
    env = BatchedEnv(LEVELS["level_1_basic"], 2, run_seed=0)
    rng = np.random.default_rng(0)
    for _ in range(40):
        env.step(rng.integers(0, 5, env.num_rows))
    tokens = torch.from_numpy(env.obs.copy())
    env.close()
    torch.manual_seed(0)
    enc = ScatterCNNEncoder(env.spec)
    k, s, side = enc.kernel, enc.stride, enc.side
    row, bag, weight, offsets = compiled(tokens.numpy(), *enc._np_tables, enc.window, k, s, side)
    want_row, want_bag, want_weight = enc.entries(tokens)
    assert len(row) > 3 * len(tokens)  # tokens feed several positions each
    np.testing.assert_array_equal(row, want_row.numpy())
    np.testing.assert_array_equal(bag, want_bag.numpy())
    np.testing.assert_allclose(weight, want_weight.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(offsets, np.searchsorted(bag, np.arange(side * side * len(tokens))))
    compiled = enc.first_conv(tokens)
    monkeypatch.setattr(cnn, "compiled_entries", lambda: None)
    torch.testing.assert_close(enc.first_conv(tokens), compiled)
