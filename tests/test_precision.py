"""bf16 autocast: the cheap dtype only inside the network; outputs and recurrent state stay fp32."""

import pytest
import torch
from arch_helpers import collect_tokens, prepare

from benchmark.architectures import ARCHITECTURES
from benchmark.policy import Policy
from benchmark.training.runtime import autocast, pick_precision

CPU = torch.device("cpu")


def test_precision_choices():
    assert pick_precision("fp32", CPU) is torch.float32
    assert pick_precision("bf16", CPU) is torch.bfloat16
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert pick_precision("auto", CPU) is (torch.bfloat16 if native else torch.float32)
    assert pick_precision("auto", CPU, cpu_bf16=False) is torch.float32  # the architecture did not ask for it
    assert pick_precision("auto", torch.device("cuda"), cpu_bf16=True) is torch.float32  # unmeasured on GPUs
    with pytest.raises(ValueError, match="valid: auto, fp32, bf16"):
        pick_precision("fp16", CPU)


@pytest.mark.parametrize("architecture", ["fast", "trxl", "agalite"])
def test_bf16_autocast_keeps_outputs_and_state_fp32_and_close_to_fp32(architecture):
    tokens, spec = collect_tokens(3, num_sims=1)
    torch.manual_seed(0)
    policy = Policy(ARCHITECTURES[architecture], spec).eval()
    x = prepare(policy, tokens)
    reset = torch.zeros(tokens.shape[:2], dtype=torch.bool)
    state = policy.initial_state(tokens.shape[0])
    with torch.no_grad():
        want, _ = policy(x, reset, state)
        with autocast(CPU, torch.bfloat16):
            got, new_state = policy(x, reset, state)
    assert got["logits"].dtype == torch.float32 and got["value"].dtype == torch.float32
    floats = [v for v in new_state.values(include_nested=True, leaves_only=True) if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float32 for v in floats)
    # rounded, not wrong: bf16 keeps about 3 significant digits
    torch.testing.assert_close(got["logits"], want["logits"], atol=0.05, rtol=0.05)
    assert not torch.equal(got["value"], want["value"]), "autocast did not take effect"


@pytest.mark.parametrize("architecture", ["fast", "memory_free"])
def test_training_records_the_precision_its_architecture_asked_for(tmp_path, architecture):
    import json

    from benchmark.training.config import TrainConfig
    from benchmark.training.trainer import SUMMARY, train

    train(TrainConfig(architecture=architecture, timesteps=1, rows=12, bptt=4, out=tmp_path, threads=1))
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    asks = ARCHITECTURES[architecture].hints.cpu_bf16
    assert asks  # every built-in architecture trains faster in bf16 on CPUs that have it
    want = "bfloat16" if native and asks else "float32"
    assert json.loads((tmp_path / SUMMARY).read_text())["precision"] == want


def test_attention_runs_in_fp32_under_cpu_autocast(monkeypatch):
    """CPU bf16 attention's backward is ~15x slower than fp32's: under autocast the projections are bf16 and
    the attention itself fp32, so its output equals fp32 attention on the bf16-rounded projections."""
    import torch.nn.functional as F

    from benchmark.components.attention import Attention

    torch.manual_seed(0)
    attn = Attention(8, 8, 8, 2)
    x, ctx = torch.randn(3, 4, 8), torch.randn(3, 5, 8)
    mask = torch.rand(3, 1, 5) > 0.3
    mask[..., 0] = True
    seen: list[torch.dtype] = []
    real = F.scaled_dot_product_attention

    def spy(q, k, v, **kw):
        seen.append(q.dtype)
        return real(q, k, v, **kw)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    with autocast(CPU, torch.bfloat16):
        y = attn(x, ctx, mask)
    y.float().sum().backward()
    monkeypatch.undo()
    assert seen == [torch.float32]
    assert attn.q.weight.grad is not None and torch.isfinite(attn.q.weight.grad).all()
    torch.testing.assert_close(y.float(), attn(x, ctx, mask), atol=0.05, rtol=0.05)
