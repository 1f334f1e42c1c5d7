"""--reevaluate: finished evaluations run again (another --episodes allowed), the earlier ones are kept."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from benchmark.errors import UsageError
from benchmark.orchestration.backends.fake import FakeBackend, FakeOutcome
from benchmark.orchestration.controller import run_experiment
from benchmark.orchestration.ledger import read_ledger
from benchmark.orchestration.options import resolve_options


def run(tmp_path, backend, **extra) -> int:
    values = dict(
        experiment_id="re",
        timesteps=1000,
        local=True,
        seeds_per_level=2,
        architectures="fast",
        levels="level_1_basic",
        output_dir=tmp_path,
        wandb_mode="disabled",
        episodes=2,
    )
    values.update(extra)
    return run_experiment(resolve_options(values), "resume", backend=backend, console=Console(), live=False)


def test_reevaluate_runs_every_evaluation_again_with_more_episodes_and_keeps_the_first(tmp_path):
    assert run(tmp_path, FakeBackend(script=lambda spec: FakeOutcome(duration=0.0))) == 0
    with pytest.raises(UsageError, match="--episodes 2, not 4.*--reevaluate"):
        resolve_options(dict(experiment_id="re", output_dir=tmp_path, episodes=4))
    backend = FakeBackend(script=lambda spec: FakeOutcome(duration=0.0, reward=2.0))
    assert run(tmp_path, backend, episodes=4, reevaluate=True) == 0
    launched = sorted(job.rsplit(".", 1)[-1] if ".baseline." not in job else "baseline" for job, _ in backend.launches)
    assert launched == ["baseline", "eval", "eval"]  # no training ran again
    ledger = read_ledger(tmp_path / "re" / "benchmark_results.json", "re")
    for run_record in ledger.runs:
        ev = run_record.evaluation
        assert ev.metrics.episodes_per_simulation == 4 and ev.metrics.simulations["basic"].reward_per_agent.mean == 2.0
        assert [p.episodes_per_simulation for p in ev.previous] == [2]
        assert ev.previous[0].simulations["basic"].reward_per_agent.mean == 1.0
        kept = json.loads(open(ev.previous[0].file).read())
        assert ev.previous[0].file.endswith("eval.1.json") and kept["episodes_per_simulation"] == 2
    base = ledger.baselines["level_1_basic"]
    assert base.metrics.episodes_per_simulation == 4 and base.previous[0].file.endswith("level_1_basic.1.json")
    assert ledger.config["episodes"] == 4
