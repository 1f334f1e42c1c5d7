"""The registry: thirteen distinct models, registration rules, user modules, `archbench list`."""

import json
import sys
from itertools import combinations
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from benchmark.architectures import ARCHITECTURES, get_architecture, load_architectures_module, register
from benchmark.cli import app
from benchmark.components.base import ObsSpec
from benchmark.components.heads import DynamicsHeads
from benchmark.policy import ArchitectureConfig, Policy, count_parameters

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "my_architecture.py"
REFERENCE = (
    "vit vit_sliding vit_reset transformer gtrxl trxl trxl_nvidia fast fast_lstm_reset fast_dynamics "
    "memory_free agalite puffer"
).split()

SPEC = ObsSpec(
    feature_names=tuple(f"f{i}" for i in range(30)) + ("last_action", "last_reward"),
    normalizations=(10.0,) * 32,
    window=11,
    num_tokens=200,
    num_actions=5,
)


@pytest.fixture
def registry():
    """Restore the registry (and forget loaded user modules) after a test that registers."""
    saved = dict(ARCHITECTURES)
    modules = set(sys.modules)
    yield ARCHITECTURES
    ARCHITECTURES.clear()
    ARCHITECTURES.update(saved)
    for name in set(sys.modules) - modules:
        if name.startswith("archbench_user_"):
            del sys.modules[name]


def structure(policy: Policy) -> tuple:
    """Module classes by path and parameter shapes: equal for two configs only if they build the same model."""
    modules = tuple((name, type(m).__name__) for name, m in policy.named_modules())
    params = tuple((name, tuple(p.shape)) for name, p in policy.named_parameters())
    return modules, params, count_parameters(policy)


def test_the_thirteen_reference_architectures_are_registered():
    assert set(REFERENCE) <= set(ARCHITECTURES)
    assert next(iter(ARCHITECTURES)) == "fast", "fast is the default and the speed baseline"


def test_no_two_entries_build_the_same_model():
    built = {name: structure(Policy(cfg, SPEC)) for name, cfg in ARCHITECTURES.items()}
    same = [(a, b) for a, b in combinations(built, 2) if built[a] == built[b]]
    assert not same, f"these registry entries build identical models: {same}"
    assert built["transformer"][0] != built["gtrxl"][0]
    assert built["vit"][2] == built["vit_reset"][2] and built["vit"][0] != built["vit_reset"][0]


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_every_entry_declares_what_it_is(name):
    cfg = ARCHITECTURES[name]
    policy = Policy(cfg, SPEC)
    assert cfg.description and cfg.memory_kind
    assert (policy.memory is None) == (cfg.memory_kind == "none")
    token_encoder = any(type(c).__name__ == "TokenShim" for c in policy.encoder)
    assert token_encoder == (cfg.encoder.observation == "tokens")


def test_reference_sizes():
    params = {name: count_parameters(Policy(ARCHITECTURES[name], SPEC)) for name in REFERENCE}
    assert params["fast"] == 562_438, "fast must stay exactly the model it is"
    assert 150_000 < params["vit"] < 230_000
    assert 2_200_000 < params["puffer"] < 2_600_000


def test_fast_dynamics_is_fast_plus_trained_dynamics_heads():
    torch.manual_seed(0)
    fast, dyn = Policy(ARCHITECTURES["fast"], SPEC), Policy(ARCHITECTURES["fast_dynamics"], SPEC)
    heads = [h for h in dyn.heads if isinstance(h, DynamicsHeads)]
    assert len(heads) == 1
    assert count_parameters(dyn) == count_parameters(fast) + count_parameters(heads[0])
    assert fast.aux_loss(None, None, None) is None
    obs = torch.full((4, 3, 20, 3), 0xFF, dtype=torch.uint8)  # tokens: 10 valid, 10 padding per step
    obs[..., :10, 0] = torch.randint(0, 11, (4, 3, 10), dtype=torch.uint8) * 16 + torch.randint(0, 11, (4, 3, 10))
    obs[..., :10, 1] = torch.randint(0, SPEC.num_features, (4, 3, 10), dtype=torch.uint8)
    obs[..., :10, 2] = torch.randint(1, 5, (4, 3, 10), dtype=torch.uint8)
    reset = torch.zeros(4, 3, dtype=torch.bool)
    out, _ = dyn(obs, reset, dyn.initial_state(4))
    loss = dyn.aux_loss(out, torch.ones(12), torch.full((12,), 2.0))
    assert loss is not None and loss.item() > 0
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in heads[0].parameters())


def test_registering_an_existing_name_raises(registry):
    with pytest.raises(ValueError, match="already registered"):
        register("fast", ARCHITECTURES["vit"])
    assert registry["fast"] is not ARCHITECTURES["vit"]


@pytest.mark.parametrize("bad", ["Fast2", "2fast", "fast-2", "fast 2", ""])
def test_registering_a_bad_name_raises(registry, bad):
    with pytest.raises(ValueError):
        register(bad, ARCHITECTURES["fast"])


def test_registering_a_non_config_raises(registry):
    with pytest.raises(TypeError, match="ArchitectureConfig"):
        register("not_a_config", {"encoder": "cnn"})


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(KeyError, match="valid: fast, "):
        get_architecture("nope")


def test_user_module_registers_and_builds(registry):
    load_architectures_module(str(EXAMPLE))
    assert {"fast_small", "vit_cls_trxl2"} <= set(registry)
    small = Policy(get_architecture("fast_small"), SPEC)
    assert count_parameters(small) < count_parameters(Policy(ARCHITECTURES["fast"], SPEC))
    load_architectures_module(str(EXAMPLE))  # loading twice is harmless, not a duplicate registration


def test_a_module_registering_an_existing_name_fails(registry, tmp_path):
    user = tmp_path / "dup.py"
    user.write_text(
        "from benchmark.architectures import ARCHITECTURES, register\nregister('vit', ARCHITECTURES['fast'])\n"
    )
    with pytest.raises(ValueError, match="'vit' is already registered"):
        load_architectures_module(str(user))


def test_one_dict_entry_is_enough(registry):
    registry["vit_tiny"] = ArchitectureConfig(
        description="a smaller vit", encoder=ARCHITECTURES["vit"].encoder.model_copy(update={"latents": 4})
    )
    assert count_parameters(Policy(get_architecture("vit_tiny"), SPEC)) > 0


def test_archbench_list_shows_every_architecture_with_parameters_and_memory(registry):
    runner = CliRunner()
    result = runner.invoke(app, ["list", "--json", "--architectures-module", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    archs = {a["name"]: a for a in json.loads(result.stdout)["architectures"]}
    assert set(REFERENCE) | {"fast_small"} <= set(archs)
    for name in REFERENCE:
        assert archs[name]["parameters"] > 0 and archs[name]["memory"]
    assert archs["fast"]["memory"] == "lstm" and archs["fast_lstm_reset"]["memory"] == "lstm_reset"
    assert archs["memory_free"]["memory"] == "none" and archs["agalite"]["memory"] == "agalite"
    table = runner.invoke(app, ["list"], terminal_width=200)
    assert table.exit_code == 0
    for name in REFERENCE:
        assert name in table.stdout
    assert f"{archs['puffer']['parameters']:,}" in table.stdout


def test_docs_parameter_table_agrees_with_the_registry():
    """docs/architectures.md lists every architecture with the parameters and memory `archbench list` shows."""
    import re

    from benchmark.levels import LEVELS
    from benchmark.policy import count_parameters
    from benchmark.training.vecenv import BatchedEnv

    env = BatchedEnv(LEVELS["level_1_basic"], 1)
    spec = env.spec
    env.close()
    text = (Path(__file__).resolve().parents[1] / "docs" / "architectures.md").read_text()
    rows = {
        m.group(1): (int(m.group(2).replace(",", "")), m.group(3))
        for m in re.finditer(r"^\| `(\w+)` \| .* \| ([\d,]+) \| (\w+) \|$", text, flags=re.M)
    }
    assert len(rows) == 13, sorted(rows)  # the shipped thirteen (tests may register more: not documented)
    for name, row in rows.items():
        cfg = ARCHITECTURES[name]
        assert row == (count_parameters(Policy(cfg, spec)), cfg.memory_kind), name
