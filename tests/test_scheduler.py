"""The scheduler on the in-process fake backend: cap, order, retries, deterministic failures, stalls, resume."""

from __future__ import annotations

import asyncio
import json
import time

from orchestration_helpers import make_plan, new_store, run_scheduler

from benchmark.orchestration.backends.fake import FakeBackend, FakeOutcome
from benchmark.orchestration.jobs import record_for
from benchmark.orchestration.ledger import Status, read_ledger
from benchmark.orchestration.plan import Role
from benchmark.orchestration.scheduler import Scheduler, SchedulerConfig


def statuses(plan, ledger):
    return {j.job_id: record_for(ledger, j).status for j in plan.jobs}


def test_cap_holds_with_many_short_jobs(tmp_path):
    plan = make_plan(tmp_path, archs=[f"a{i}" for i in range(10)], levels=["l1", "l2", "l3"], seeds=3)
    assert len(plan.jobs) == 3 + 2 * 90
    store = new_store(plan)
    backend = FakeBackend(script=lambda spec: FakeOutcome(duration=0.002 + (hash(spec.job_id) % 7) / 1000))
    outcome = run_scheduler(plan, store, backend, max_parallel=4)
    assert outcome.complete and outcome.succeeded == len(plan.jobs)
    assert backend.max_running == 4  # reached, never exceeded
    assert len(backend.launches) == len(plan.jobs)
    ledger = read_ledger(plan.paths.ledger, "x")  # the file on disk is complete and valid
    assert all(s == Status.SUCCESS for s in statuses(plan, ledger).values())
    run = ledger.runs[0]
    assert run.training.metrics.agent_steps == 100 and run.evaluation.metrics.simulations["basic"].episodes == 2
    assert ledger.baselines["l1"].metrics.policy == "random"


def test_breadth_first_then_longest_first(tmp_path):
    from benchmark.orchestration.plan import Throughput

    tp = Throughput(train_sps={("a", "l1"): 10.0, ("a", "l2"): 1.0, ("b", "l1"): 100.0})  # (b, l2) unknown
    plan = make_plan(tmp_path, seeds=3, baselines=False, throughput=tp)
    trains = [j for j in plan.jobs if j.role == Role.TRAIN]
    seeds = [j.run_id.rsplit(".s", 1)[1] for j in trains]
    assert seeds == ["0"] * 4 + ["1"] * 4 + ["2"] * 4  # every cell's first seed before any second seed
    cells = [".".join(j.run_id.split(".")[1:3]) for j in trains[:4]]
    assert cells == ["b.l2", "a.l2", "a.l1", "b.l1"]  # unknown first, then the longest
    assert all(j.depends_on == f"{j.run_id}.train" for j in plan.jobs if j.role == Role.EVAL)

    # the backend sees that order, and each evaluation starts at the first free slot after its training
    store = new_store(plan)
    backend = FakeBackend(script=lambda spec: FakeOutcome(duration=0.01))
    run_scheduler(plan, store, backend, max_parallel=1)
    launched = [job for job, _ in backend.launches]
    expected = []
    for t in trains:
        expected += [t.job_id, f"{t.run_id}.eval"]
    assert launched == expected


def test_retry_then_success(tmp_path):
    plan = make_plan(tmp_path, archs=["a"], levels=["l1"], seeds=1, baselines=False)
    store = new_store(plan)
    attempts = {}

    def script(spec):
        attempts[spec.job_id] = spec.attempt
        failing = spec.job_id.endswith(".train") and spec.attempt <= 2
        return FakeOutcome(duration=0.01, exit_code=1 if failing else 0)

    events = []
    outcome = run_scheduler(plan, store, FakeBackend(script=script), events=events, retries=2)
    assert outcome.complete
    rec = store.ledger.runs[0].training
    assert rec.status == Status.SUCCESS and rec.attempts == 3 and rec.error is None
    assert [a.outcome for a in rec.history] == ["failed", "failed", "success"]
    assert [e for _, e, _ in events].count("retry") == 2


def test_retries_exhausted_fails_and_skips_the_evaluation(tmp_path):
    plan = make_plan(tmp_path, archs=["a"], levels=["l1"], seeds=1, baselines=False)
    store = new_store(plan)
    backend = FakeBackend(script=lambda spec: FakeOutcome(duration=0.01, exit_code=1))
    outcome = run_scheduler(plan, store, backend, retries=1)
    run = store.ledger.runs[0]
    assert run.training.status == Status.FAILED and run.training.attempts == 2
    assert "gave up after 2 attempts" in run.training.error
    assert run.evaluation.status == Status.SKIPPED and "train job failed" in run.evaluation.error
    assert outcome.failed == 1 and not outcome.complete


def test_deterministic_failure_is_not_retried(tmp_path):
    plan = make_plan(tmp_path, archs=["a"], levels=["l1"], seeds=1, baselines=False)
    store = new_store(plan)
    backend = FakeBackend(script=lambda spec: FakeOutcome(duration=0.01, exit_code=3))
    run_scheduler(plan, store, backend, retries=5)
    rec = store.ledger.runs[0].training
    assert len(backend.launches) == 1 and rec.attempts == 1
    assert rec.status == Status.FAILED and "deterministic failure, exit 3: not retried" in rec.error
    assert rec.history[0].outcome == "deterministic"


def test_stalled_job_is_killed_and_retried(tmp_path):
    plan = make_plan(tmp_path, archs=["a"], levels=["l1"], seeds=1, baselines=False)
    store = new_store(plan)
    backend = FakeBackend(script=lambda spec: FakeOutcome(duration=0.01, hang=spec.attempt == 1))
    start = time.monotonic()
    outcome = run_scheduler(plan, store, backend, stall_timeout=0.4)
    assert outcome.complete and time.monotonic() - start < 5
    rec = store.ledger.runs[0].training
    assert rec.attempts == 2 and rec.history[0].outcome == "stalled"
    assert "no progress" in rec.history[0].detail


def test_heartbeat_keeps_a_slow_job_alive(tmp_path):
    """A job that keeps writing its log is not a stall, however long it runs."""
    plan = make_plan(tmp_path, archs=["a"], levels=["l1"], seeds=1, baselines=False)
    store = new_store(plan)
    job = plan.jobs[0]

    async def main():
        backend = FakeBackend(script=lambda spec: FakeOutcome(duration=1.2 if spec.kind == "train" else 0.01))

        async def beat():
            job.log_path.parent.mkdir(parents=True, exist_ok=True)
            for _ in range(14):
                job.log_path.write_text("working\n")
                await asyncio.sleep(0.1)

        sched = Scheduler(plan, store, backend, SchedulerConfig(stall_timeout=0.5, backoff_seconds=0))
        _, outcome = await asyncio.gather(beat(), sched.run())
        return outcome

    outcome = asyncio.run(main())
    assert outcome.complete and store.ledger.runs[0].training.attempts == 1


def test_exit_zero_without_outputs_is_a_failure(tmp_path):
    plan = make_plan(tmp_path, archs=["a"], levels=["l1"], seeds=1, baselines=False)
    store = new_store(plan)
    backend = FakeBackend(script=lambda spec: FakeOutcome(duration=0.01, write_outputs=spec.attempt > 1))
    run_scheduler(plan, store, backend)
    rec = store.ledger.runs[0].training
    assert rec.status == Status.SUCCESS and rec.attempts == 2
    assert "train_summary.json is missing" in rec.history[0].detail


def test_resume_runs_only_what_is_not_done(tmp_path):
    plan = make_plan(tmp_path, seeds=1)
    store = new_store(plan)
    # a first controller finished some jobs, was running one, and died (no Ctrl-C: it stays "running")
    first = FakeBackend(script=lambda spec: FakeOutcome(duration=0.01))
    done = [j for j in plan.jobs if j.role == Role.BASELINE] + [plan.jobs[2]]  # baselines + one train
    for job in done:
        asyncio.run(first.submit(_spec(job)))
    asyncio.run(first.poll([f"fake-{i}" for i in range(len(first.launches))]))  # not finished yet: too soon
    time.sleep(0.02)
    asyncio.run(first.poll([f"fake-{i}" for i in range(len(first.launches))]))  # writes their outputs
    for job in done:
        record_for(store.ledger, job).status = Status.SUCCESS
    running = plan.jobs[4]  # recorded as running on a backend that no longer knows it
    rec = record_for(store.ledger, running)
    rec.status, rec.handle, rec.backend, rec.attempts = Status.RUNNING, "fake-999", "fake", 1
    store.save()

    second = FakeBackend(script=lambda spec: FakeOutcome(duration=0.01))
    outcome = run_scheduler(plan, store, second)
    assert outcome.complete
    launched = [job for job, _ in second.launches]
    assert not set(launched) & {j.job_id for j in done}
    assert launched.count(running.job_id) == 1 and record_for(store.ledger, running).attempts == 2
    assert len(launched) == len(plan.jobs) - len(done)


def test_resume_trusts_complete_outputs_over_a_stale_running_record(tmp_path):
    """Killed between a job's end and the ledger write: its files say it is done; it is not run again."""
    from benchmark.orchestration.backends.fake import write_fake_outputs

    plan = make_plan(tmp_path, archs=["a"], levels=["l1"], seeds=1, baselines=False)
    store = new_store(plan)
    train = plan.jobs[0]
    write_fake_outputs(train.argv)
    rec = record_for(store.ledger, train)
    rec.status, rec.handle, rec.backend = Status.RUNNING, "fake-0", "fake"
    backend = FakeBackend(script=lambda spec: FakeOutcome(duration=0.01))
    run_scheduler(plan, store, backend)
    assert [j for j, _ in backend.launches] == [plan.jobs[1].job_id]
    assert rec.status == Status.SUCCESS and rec.history == []


def test_stop_leaves_running_jobs_pending_and_a_valid_ledger(tmp_path):
    plan = make_plan(tmp_path, archs=["a", "b", "c"], levels=["l1"], seeds=1, baselines=False)
    store = new_store(plan)
    backend = FakeBackend(script=lambda spec: FakeOutcome(duration=30))

    async def main():
        sched = Scheduler(plan, store, backend, SchedulerConfig(max_parallel=2))
        task = asyncio.create_task(sched.run())
        await asyncio.sleep(0.2)
        sched.request_stop()
        return await asyncio.wait_for(task, 5)

    outcome = asyncio.run(main())
    assert outcome.interrupted and not outcome.complete and len(backend.launches) == 2
    ledger = read_ledger(plan.paths.ledger, "x")
    trains = [r.training for r in ledger.runs]
    assert all(t.status == Status.PENDING for t in trains)
    assert sorted(t.attempts for t in trains) == [0, 1, 1]
    assert all(t.history[-1].outcome == "interrupted" for t in trains if t.attempts)


def test_skip_training_evaluates_checkpoints_and_reports_runs_without_one(tmp_path):
    plan = make_plan(tmp_path, archs=["a", "b"], levels=["l1"], seeds=1, baselines=False)
    store = new_store(plan)
    with_ckpt = plan.runs[0]
    with_ckpt.run_dir.mkdir(parents=True)
    (with_ckpt.run_dir / "checkpoint.pt").write_bytes(b"x")
    backend = FakeBackend(script=lambda spec: FakeOutcome(duration=0.01))
    events = []
    outcome = run_scheduler(plan, store, backend, events=events, skip_training=True)
    assert [j for j, _ in backend.launches] == [f"{with_ckpt.run_id}.eval"]
    ledger = read_ledger(plan.paths.ledger, "x")
    ok, missing = ledger.run(with_ckpt.run_id), ledger.run(plan.runs[1].run_id)
    assert ok.training.status == Status.SKIPPED and ok.evaluation.status == Status.SUCCESS
    assert missing.training.status == Status.SKIPPED and "no checkpoint at" in missing.training.error
    assert missing.evaluation.status == Status.SKIPPED and "no checkpoint" in missing.evaluation.error
    assert any(e == "skipped" and j == f"{plan.runs[1].run_id}.train" for j, e, _ in events)
    assert outcome.failed == 0


def _spec(job):
    from benchmark.orchestration.backend import JobSpec

    return JobSpec(job.job_id, job.run_id, job.kind, job.argv, job.run_dir, job.log_path)


def test_ledger_json_has_the_documented_shape(tmp_path):
    plan = make_plan(tmp_path, archs=["a"], levels=["l1"], seeds=1)
    store = new_store(plan)
    run_scheduler(plan, store, FakeBackend(script=lambda spec: FakeOutcome(duration=0.01)))
    raw = json.loads(plan.paths.ledger.read_text())
    assert {
        "experiment_id",
        "start_time",
        "end_time",
        "max_timesteps",
        "config",
        "environment",
        "runs",
        "baselines",
    } <= set(raw)
    run = raw["runs"][0]
    assert {"run_id", "architecture", "level", "seed", "training", "evaluation"} <= set(run)
    for key in ("status", "attempts", "duration_seconds", "command", "error", "handle", "backend", "metrics"):
        assert key in run["training"] and key in run["evaluation"]
    assert run["training"]["command"].startswith("archbench train --level l1 --architecture a --seed 0")
    assert set(run["training"]["metrics"]) >= {"agent_steps", "sps", "parameters", "checkpoint", "wall_seconds"}
