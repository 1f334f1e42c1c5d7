"""The calibration probe: a real short training gives a cell's throughput; the cache spares a second probe."""

from __future__ import annotations

import json

from rich.console import Console

from benchmark.orchestration import probe as probe_module
from benchmark.orchestration.controller import run_experiment
from benchmark.orchestration.options import resolve_options
from benchmark.orchestration.probe import cell_key, eval_seconds, probe


def test_a_real_probe_measures_a_cell_and_caches_it(tmp_path, monkeypatch):
    throughput = probe([("fast", "level_1_basic")], tmp_path, "cpu", threads=1, episodes=2, say=lambda s: None)
    sps = throughput.train_sps[("fast", "level_1_basic")]
    assert 100 < sps < 1_000_000
    (cached,) = json.loads(next(tmp_path.glob("*.json")).read_text()).values()
    assert cached["train_sps"] == sps and cached["rollout_sps"] > sps and cached["env_sps"] > cached["rollout_sps"]
    assert throughput.eval_seconds[("fast", "level_1_basic")] == eval_seconds("level_1_basic", 2, cached["rollout_sps"])
    assert throughput.eval_seconds[("random", "level_1_basic")] < throughput.eval_seconds[("fast", "level_1_basic")]

    def no_second_probe(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(probe_module, "probe_cell", no_second_probe)
    again = probe([("fast", "level_1_basic")], tmp_path, "cpu", threads=1, episodes=2, say=lambda s: None)
    assert again.train_sps == throughput.train_sps


def test_a_cell_key_changes_with_the_architecture_config():
    assert cell_key("fast", "level_1_basic") != cell_key("fast_dynamics", "level_1_basic")
    assert cell_key("fast", "level_1_basic").split("|")[3] == cell_key("vit", "level_1_basic").split("|")[3]


def test_a_local_dry_run_estimates_every_job(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_probe_cell(architecture, level, threads, architectures_module=None):
        calls.append((architecture, level))
        return {"train_sps": 1000.0, "rollout_sps": 5000.0, "env_sps": 20000.0, "threads": threads}

    monkeypatch.setattr(probe_module, "probe_cell", fake_probe_cell)
    options = resolve_options(
        dict(
            experiment_id="dry",
            timesteps=100_000,
            local=True,
            architectures="fast,vit",
            levels="level_1_basic",
            output_dir=tmp_path,
            dry_run=True,
        )
    )
    assert run_experiment(options, "r", console=Console(width=200), live=False) == 0
    out = capsys.readouterr().out
    assert sorted(calls) == [("fast", "level_1_basic"), ("vit", "level_1_basic")]
    assert "unknown" not in out and "time estimate: ~" in out
    assert "dry.fast.level_1_basic.s0.train │ 2 min" in out  # 100,000 agent steps at 1,000 per second
