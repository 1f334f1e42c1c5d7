"""The plan: run ids, job command lines the CLI accepts, and the time estimate."""

from __future__ import annotations

from orchestration_helpers import make_plan

from benchmark.orchestration.plan import Throughput, cli_args, estimate_makespan


def test_run_ids_and_job_commands(tmp_path):
    plan = make_plan(tmp_path, archs=["fast"], levels=["level_1_basic"], seeds=2, architectures_module="m.py")
    assert [r.run_id for r in plan.runs] == ["x.fast.level_1_basic.s0", "x.fast.level_1_basic.s1"]
    assert [r.seed for r in plan.runs] == [0, 1]  # the seed is real: it reaches the trainer's --seed
    base, train, ev = plan.jobs[0], plan.jobs[1], plan.jobs[2]
    assert base.argv == cli_args(
        "evaluate",
        policy="random",
        level="level_1_basic",
        episodes=2,
        out=tmp_path / "x" / "baselines" / "level_1_basic.json",
    )
    assert train.command.startswith(
        "archbench train --level level_1_basic --architecture fast --seed 0 --timesteps 100"
    )
    assert "--run-id x.fast.level_1_basic.s0" in train.command and train.command.endswith(
        "--architectures-module m.py --quiet"
    )
    assert ev.argv == (
        "evaluate",
        "--run",
        str(train.run_dir),
        "--episodes",
        "2",
        "--architectures-module",
        "m.py",
        "--wandb-mode",
        "offline",
    )
    assert ev.depends_on == train.job_id and ev.output == train.run_dir / "eval.json"


def test_every_planned_command_parses_with_the_real_cli(tmp_path):
    """The reference suite's evals passed a flag its recipes did not accept: parse ours with the real CLI."""
    import typer

    from benchmark.cli import app

    plan = make_plan(tmp_path, archs=["fast"], levels=["level_1_basic"], seeds=1, architectures_module="m.py")
    group = typer.main.get_command(app)
    for job in plan.jobs:
        command = group.commands[job.argv[0]]
        ctx = command.make_context(job.argv[0], list(job.argv[1:]))
        assert ctx.params  # parsed without a usage error


def test_estimate_from_measured_throughput(tmp_path):
    tp = Throughput(train_sps={("a", "l1"): 10.0}, eval_seconds={("a", "l1"): 2.0, ("random", "l1"): 1.0})
    plan = make_plan(tmp_path, archs=["a"], levels=["l1"], seeds=2, throughput=tp)  # 100 steps / 10 sps = 10 s
    seconds, unknown = estimate_makespan(plan, max_parallel=2)
    assert unknown == [] and seconds == 13.0  # baseline 0-1 s; trains 0-10, 1-11 s; evals 10-12, 11-13 s
    seconds, unknown = estimate_makespan(make_plan(tmp_path, archs=["b"], levels=["l1"], seeds=1), 2)
    assert len(unknown) == 3


def test_per_level_budgets_reach_the_training_commands(tmp_path):
    plan = make_plan(tmp_path, level_timesteps={"l2": 500})
    budgets = {j.run_id: j.argv[j.argv.index("--timesteps") + 1] for j in plan.jobs if j.role == "train"}
    assert budgets["x.a.l1.s0"] == "100" and budgets["x.a.l2.s0"] == "500"
    assert plan.agent_steps == 2 * 2 * 100 + 2 * 2 * 500 and plan.timesteps_for("l2") == 500
