"""--screen: successive halving through the real controller on the fake backend, scores known in advance."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from benchmark.errors import UsageError
from benchmark.orchestration.backends.fake import FakeBackend, FakeOutcome, parse_options
from benchmark.orchestration.controller import run_experiment
from benchmark.orchestration.ledger import read_ledger
from benchmark.orchestration.options import resolve_options

LEVEL = "level_1_basic"
# the score grows with the budget; the order of the architectures holds at every budget
QUALITY = {"fast": 4.0, "puffer": 3.0, "vit": 2.0, "transformer": 1.0}


def script(spec) -> FakeOutcome:
    command, opts = parse_options(spec.argv)
    if command == "evaluate" and "run" in opts:
        name = Path(opts["run"]).name  # <experiment>.<arch>.<level>.s<seed>[.r<rung>]
        parts = name.split(".")
        rung = int(parts[-1][1:]) if parts[-1].startswith("r") else 2
        return FakeOutcome(duration=0.0, reward=QUALITY[parts[1]] * (rung + 1) + 0.01 * int(parts[3][1:]))
    return FakeOutcome(duration=0.0)


def run(tmp_path: Path, backend=None, **extra) -> int:
    values = dict(
        experiment_id="sc",
        timesteps=4000,
        local=True,
        screen=True,
        screen_rungs=3,
        seeds_per_level=2,
        architectures=",".join(QUALITY),
        levels=LEVEL,
        output_dir=tmp_path,
        wandb_mode="disabled",
    )
    values.update(extra)
    backend = backend or FakeBackend(script=script)
    return run_experiment(resolve_options(values), "resume", backend=backend, console=Console(), live=False)


def test_screening_halves_the_field_per_rung_and_continues_checkpoints(tmp_path):
    backend = FakeBackend(script=script)
    assert run(tmp_path, backend) == 0
    ledger = read_ledger(tmp_path / "sc" / "benchmark_results.json", "sc")
    rungs = ledger.screening.levels[LEVEL]
    assert [(r.rung, r.budget, r.kept, r.stopped) for r in rungs] == [
        (0, 1000, ["fast", "puffer"], ["vit", "transformer"]),
        (1, 2000, ["fast"], ["puffer"]),
    ]
    assert ledger.screening.budgets == [1000, 2000, 4000]
    trained = sorted(
        (r.architecture, 2 if r.rung is None else r.rung, r.training.metrics.agent_steps)
        for r in ledger.runs
        if r.seed == 0
    )
    assert trained == [
        ("fast", 0, 1000),
        ("fast", 1, 2000),
        ("fast", 2, 4000),
        ("puffer", 0, 1000),
        ("puffer", 1, 2000),
        ("transformer", 0, 1000),
        ("vit", 0, 1000),
    ]
    final = next(r for r in ledger.runs if r.architecture == "fast" and r.rung is None and r.seed == 1)
    assert "--init-from" in final.training.command and final.training.command.endswith(
        "sc.fast.level_1_basic.s1.r1/checkpoint.pt"
    )
    assert len(backend.launches) == 1 + 2 * (8 + 4 + 2)  # a baseline, then train + eval of every rung's run
    report = (tmp_path / "sc" / "report" / "report.md").read_text()
    assert "## Screening" in report and "| 0 | 1,000 | fast, puffer | vit, transformer | fast 4.005" in report
    assert "2 of 2 grid cells scored" in report  # only the full-budget runs are ranked


def test_a_restarted_screening_reaches_the_same_rungs_without_rerunning(tmp_path, capsys):
    assert run(tmp_path) == 0
    out = " ".join(capsys.readouterr().out.split())  # the decisions are shown as they are made
    decided = "decision controller: level_1_basic: rung 0 (1,000 agent steps) decided: continue fast, puffer"
    assert decided + "; stopped vit, transformer" in out
    backend = FakeBackend(script=script)
    assert run(tmp_path, backend) == 0
    assert backend.launches == []


def test_screen_and_adaptive_are_exclusive(tmp_path):
    with pytest.raises(UsageError, match="choose one"):
        run(tmp_path, adaptive=True)


def test_a_continued_rung_resumes_the_previous_checkpoint(tmp_path):
    from benchmark.levels import LEVELS
    from benchmark.training.config import TrainConfig
    from benchmark.training.trainer import METRICS, train

    agents, bptt = LEVELS[LEVEL].num_agents, 4
    common = dict(architecture="fast", num_sims=1, bptt=bptt, minibatches=1, epochs=1, threads=1, log_seconds=0.0)
    first = train(TrainConfig(timesteps=2 * agents * bptt, out=tmp_path / "r0", **common))
    second = train(
        TrainConfig(
            timesteps=4 * agents * bptt, out=tmp_path / "r1", init_from=tmp_path / "r0" / "checkpoint.pt", **common
        )
    )
    assert second.resumed_from == first.agent_steps and second.agent_steps == 4 * agents * bptt
    steps = [line.split(",")[0] for line in (tmp_path / "r1" / METRICS).read_text().splitlines()]
    assert len(steps) == 4  # the first rung's curve, continued
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        train(TrainConfig(timesteps=agents * bptt, out=tmp_path / "r2", init_from=tmp_path / "none.pt", **common))


def test_an_adaptive_or_screening_experiment_cannot_be_extended(tmp_path):
    with pytest.raises(UsageError, match="--extend would change the architectures a --screen experiment"):
        resolve_options(dict(experiment_id="x", timesteps=10, screen=True, extend=True, output_dir=tmp_path))


def test_a_screening_dry_run_shows_its_first_rung(tmp_path, capsys):
    assert run(tmp_path, dry_run=True, probe=False) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "screening: 3 rungs of 1,000, 2,000, 4,000 agent steps" in out
    assert "8 runs = 4 architectures x 1 level x 2 seeds" in out and "8,000 in all" in out
    assert not (tmp_path / "sc").exists()
