"""--interim-evals: checkpoints at fractions of the budget, each evaluated as its own job, curves in the report."""

from __future__ import annotations

import pytest
from rich.console import Console

from benchmark.errors import UsageError
from benchmark.orchestration.backends.fake import FakeBackend, FakeOutcome
from benchmark.orchestration.controller import run_experiment
from benchmark.orchestration.ledger import read_ledger
from benchmark.orchestration.options import resolve_options
from benchmark.reporting.loader import eval_curves


def options(tmp_path, **extra):
    values = dict(
        experiment_id="ie",
        timesteps=1000,
        local=True,
        seeds_per_level=1,
        architectures="fast",
        levels="level_1_basic",
        output_dir=tmp_path,
        wandb_mode="disabled",
        episodes=8,
        interim_evals="25,50,75",
    )
    values.update(extra)
    return resolve_options(values)


def test_each_run_gets_an_interim_evaluation_per_fraction(tmp_path):
    backend = FakeBackend(script=lambda spec: FakeOutcome(duration=0.0))
    assert run_experiment(options(tmp_path), "r", backend=backend, console=Console(), live=False) == 0
    launched = sorted(job.split("level_1_basic.s0.")[-1] for job, _ in backend.launches if ".s0." in job)
    assert launched == ["eval", "eval25", "eval50", "eval75", "train"]
    run = read_ledger(tmp_path / "ie" / "benchmark_results.json", "ie").runs[0]
    assert sorted(run.interim) == ["25", "50", "75"]
    assert all(r.status == "success" and r.metrics.episodes_per_simulation == 2 for r in run.interim.values())
    assert "--snapshots 25,50,75" in run.training.command
    assert run.interim["50"].command.endswith(
        "--run "
        + run.run_dir
        + "/at50 --episodes 2 --out "
        + run.run_dir
        + "/at50/eval.json --wandb-mode disabled --replays 0"
    )
    again = FakeBackend(script=lambda spec: FakeOutcome(duration=0.0))  # resumed: all done, nothing runs again
    assert run_experiment(options(tmp_path), "r", backend=again, console=Console(), live=False) == 0
    assert again.launches == []
    with pytest.raises(UsageError, match="--interim-evals"):
        options(tmp_path, interim_evals="25,100")


def test_the_report_frame_puts_every_evaluation_at_its_checkpoint_steps():
    def record(steps: int, reward: float) -> dict:
        sim = {"reward_per_agent": {"mean": reward}, "hearts_per_agent": {"mean": reward / 2}}
        return {"status": "success", "metrics": {"checkpoint_agent_steps": steps, "simulations": {"basic": sim}}}

    ledger = {
        "runs": [
            {
                "architecture": "fast",
                "level": "level_1_basic",
                "seed": 0,
                "evaluation": record(1000, 4.0),
                "interim": {"25": record(250, 1.0), "50": record(500, 2.0)},
            },
            {"architecture": "fast", "level": "level_1_basic", "seed": 0, "rung": 0, "evaluation": record(9, 9.0)},
        ]
    }
    frame = eval_curves(ledger)
    assert frame[["agent_steps", "reward_per_agent", "hearts_per_agent"]].values.tolist() == [
        [250, 1.0, 0.5],
        [500, 2.0, 1.0],
        [1000, 4.0, 2.0],
    ]


def test_the_trainer_keeps_a_checkpoint_at_each_fraction(tmp_path):
    import torch

    from benchmark.levels import LEVELS
    from benchmark.training.config import TrainConfig
    from benchmark.training.trainer import train

    agents, bptt = LEVELS["level_1_basic"].num_agents, 4
    budget = 4 * agents * bptt
    cfg = TrainConfig(
        architecture="fast",
        timesteps=budget,
        num_sims=1,
        bptt=bptt,
        minibatches=1,
        epochs=1,
        threads=1,
        snapshots=[50],
        out=tmp_path / "run",
    )
    train(cfg)
    snapshot = torch.load(tmp_path / "run" / "at50" / "checkpoint.pt", weights_only=False)
    assert budget / 2 <= snapshot["global_step"] < budget


def test_interim_evaluations_start_while_their_training_runs(tmp_path):
    """A snapshot written early (as the trainer does at each fraction) is evaluated before the training ends."""
    from benchmark.orchestration.backend import JobKind
    from benchmark.training.checkpoint import CHECKPOINT

    def script(spec):
        if spec.kind == JobKind.TRAIN:  # the trainer's snapshots appear at once; the training runs on for 2 s
            for percent in (25, 50, 75):
                snapshot = spec.run_dir / f"at{percent}" / CHECKPOINT
                snapshot.parent.mkdir(parents=True, exist_ok=True)
                snapshot.write_bytes(b"snapshot")
            return FakeOutcome(duration=2.0)
        return FakeOutcome(duration=0.0)

    backend = FakeBackend(script=script)
    assert run_experiment(options(tmp_path), "r", backend=backend, console=Console(), live=False) == 0
    run = read_ledger(tmp_path / "ie" / "benchmark_results.json", "ie").runs[0]
    assert all(r.status == "success" for r in run.interim.values())
    ended = run.training.ended_at
    assert all(r.started_at < ended for r in run.interim.values())
    assert run.evaluation.started_at >= ended  # the final evaluation still waits for the training
