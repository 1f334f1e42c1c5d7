"""A changed observation feature table: token (attention) policies remap by name, box (CNN) ones refuse."""

import numpy as np
import pytest
import torch
from arch_helpers import collect_tokens, prepare, run_sequence

from benchmark.architectures import ARCHITECTURES
from benchmark.components.base import ObservationError, ObsSpec
from benchmark.evaluation.evaluator import TrainedPolicy, evaluate, load_policy
from benchmark.levels import LEVELS
from benchmark.policy import Policy
from benchmark.training.checkpoint import load_checkpoint
from benchmark.training.config import TrainConfig
from benchmark.training.trainer import train
from benchmark.training.vecenv import BatchedEnv

LEVEL = LEVELS["level_1_basic"]
ADDED = "last_action_move"  # MettaGrid appends this one feature when the option is on


def changed_env(num_sims: int = 1) -> BatchedEnv:
    """Level 1 with one observation feature added."""
    cfg = LEVEL.game()
    cfg.game.obs.global_obs.last_action_move = True
    return BatchedEnv(LEVEL, num_sims, sim_config=cfg)


@pytest.fixture(scope="module")
def env_specs():
    torch.set_num_threads(1)
    tokens, trained = collect_tokens(4, num_sims=1)
    env = changed_env()
    try:
        rng = np.random.default_rng(0)
        frames = []
        for _ in range(4):
            frames.append(env.obs.copy())
            env.step(rng.integers(0, 5, env.num_rows))
        changed = env.spec
        changed_tokens = torch.from_numpy(np.stack(frames, 1))
    finally:
        env.close()
    assert set(changed.feature_names) - set(trained.feature_names) == {ADDED}
    assert changed.num_features == trained.num_features + 1
    return trained, changed, changed_tokens


def insert_feature(spec: ObsSpec, at: int, name: str) -> ObsSpec:
    """The spec with a new feature at id `at`: every later feature's id moves up by one."""
    return ObsSpec(
        feature_names=spec.feature_names[:at] + (name,) + spec.feature_names[at:],
        normalizations=spec.normalizations[:at] + (7.0,) + spec.normalizations[at:],
        window=spec.window,
        num_tokens=spec.num_tokens,
        num_actions=spec.num_actions,
        categories=spec.feature_categories[:at] + (0,) + spec.feature_categories[at:],
        scales=spec.feature_scales[:at] + (1 / 7.0,) + spec.feature_scales[at:],
    )


def renumber(tokens: torch.Tensor, at: int) -> torch.Tensor:
    """Tokens in the old ids -> the same tokens in the ids of `insert_feature(spec, at, ...)`."""
    out = tokens.clone()
    feature = out[..., 1]
    real = out[..., 0] != 0xFF
    out[..., 1] = torch.where(real & (feature >= at), feature + 1, feature)
    return out


@pytest.mark.parametrize("unknown", ["drop", "reserve"])
def test_token_shim_remaps_shifted_feature_ids_by_name(unknown):
    tokens, spec = collect_tokens(3, num_sims=1)
    at = 5
    moved = insert_feature(spec, at, "brand_new")
    cfg = ARCHITECTURES["vit_reset"]
    cfg = cfg.model_copy(update={"encoder": cfg.encoder.model_copy(update={"unknown_features": unknown})})
    torch.manual_seed(0)
    policy = Policy(cfg, spec).eval()
    reset = torch.zeros(tokens.shape[:2], dtype=torch.bool)
    want = run_sequence(policy, prepare(policy, tokens), reset, policy.initial_state(tokens.shape[0]))[0]
    policy.adapt(moved)
    new_tokens = renumber(tokens, at)
    got = run_sequence(policy, prepare(policy, new_tokens), reset, policy.initial_state(tokens.shape[0]))[0]
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    # tokens of the new feature: dropped, or read through the one reserved embedding
    with_new = new_tokens.clone()
    first_pad = (with_new[..., 0] == 0xFF).int().argmax(-1)  # [B, T]
    b, t = first_pad.shape
    with_new[torch.arange(b).unsqueeze(1), torch.arange(t), first_pad] = torch.tensor([0x55, at, 3], dtype=torch.uint8)
    out, _ = policy(prepare(policy, with_new), reset, policy.initial_state(tokens.shape[0]))
    shim = policy.encoder[0]
    td = shim(type(out)({"obs": with_new[:, 0]}, batch_size=[with_new.shape[0]]))
    if unknown == "drop":
        torch.testing.assert_close(out["logits"].view_as(want), want, atol=1e-6, rtol=0)
        assert int(td["tok_mask"].sum()) == int((new_tokens[:, 0, :, 0] != 0xFF).sum())
    else:
        assert shim.table_size == spec.num_channels + 1
        assert int(((td["tok_feature"] == spec.num_channels) & td["tok_mask"]).sum()) == with_new.shape[0]
        assert torch.isfinite(out["logits"]).all()


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_token_policies_act_with_an_added_feature_and_box_policies_refuse(name, env_specs):
    trained, changed, changed_tokens = env_specs
    cfg = ARCHITECTURES[name]
    policy = Policy(cfg, trained).eval()
    if cfg.encoder.observation == "box":
        with pytest.raises(ObservationError, match=rf"added \['{ADDED}'\].*retrained"):
            policy.adapt(changed)
        return
    policy.adapt(changed)
    x = prepare(policy, changed_tokens)
    reset = torch.zeros(x.shape[:2], dtype=torch.bool)
    reset[:, 0] = True
    logits, values, _ = run_sequence(policy, x, reset, policy.initial_state(x.shape[0]))
    assert torch.isfinite(logits).all() and torch.isfinite(values).all()


def test_another_action_count_is_refused(env_specs):
    trained = env_specs[0]
    fewer = ObsSpec(trained.feature_names, trained.normalizations, trained.window, trained.num_tokens, 4)
    with pytest.raises(ObservationError, match="5 actions .* has 4"):
        Policy(ARCHITECTURES["vit"], trained).adapt(fewer)


@pytest.mark.parametrize("name", ["vit", "fast"])
def test_a_checkpoint_loads_into_a_changed_environment(name, tmp_path):
    out = tmp_path / name
    train(
        TrainConfig(
            architecture=name,
            timesteps=96,
            rows=12,
            num_sims=1,
            bptt=8,
            minibatches=1,
            checkpoint_seconds=3600,
            out=out,
            threads=1,
        )
    )
    ckpt = load_checkpoint(out / "checkpoint.pt")
    env = changed_env()
    try:
        if ARCHITECTURES[name].encoder.observation == "box":
            with pytest.raises(ObservationError, match=f"added \\['{ADDED}'\\].*retrained"):
                load_policy(ckpt, env.spec)
            return
        actor = TrainedPolicy(load_policy(ckpt, env.spec), torch.device("cpu"), env.num_rows, seed=0)
        reset = np.ones(env.num_rows, dtype=bool)
        for _ in range(5):
            actions = actor.act(env.obs, reset)
            assert actions.shape == (env.num_rows,) and ((0 <= actions) & (actions < 5)).all()
            reset, _ = env.step(actions)
    finally:
        env.close()


def test_evaluate_a_token_policy_end_to_end(tmp_path):
    out = tmp_path / "vit"
    train(TrainConfig(architecture="vit", timesteps=96, rows=12, num_sims=1, bptt=8, out=out, threads=1))
    result = evaluate(run_dir=out, episodes=1, threads=1)
    assert result["architecture"] == "vit" and result["simulations"]["basic"]["episodes"] == 1
