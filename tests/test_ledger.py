"""benchmark_results.json: atomic rewrites, spaced rewrites that lose nothing, refusing files we must not touch."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from orchestration_helpers import make_plan, new_ledger

from benchmark.orchestration.ledger import LedgerError, LedgerStore, Status, atomic_write_text, read_ledger


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    atomic_write_text(path, '{"old": 1}')

    def boom(src, dst):
        raise KeyboardInterrupt  # e.g. Ctrl-C between writing the temp file and renaming it

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, '{"new": 2}')
    assert json.loads(path.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temp file left behind


def test_round_trip_and_every_save_is_complete_json(tmp_path):
    plan = make_plan(tmp_path, seeds=1)
    store = LedgerStore(plan.paths.ledger, new_ledger(plan))
    store.save()
    for i in range(5):
        store.ledger.runs[0].training.attempts = i
        store.save()
        assert read_ledger(plan.paths.ledger, "x").runs[0].training.attempts == i


def test_changes_close_together_are_written_together_and_none_is_lost(tmp_path):
    plan = make_plan(tmp_path, seeds=1)
    store = LedgerStore(plan.paths.ledger, new_ledger(plan), duty=0.01)  # rewrites at most 1% of the time

    async def main():
        store.save()
        for i in range(20):
            store.ledger.runs[0].training.attempts = i + 1
            store.changed()
        assert store.writes < 21  # spaced out...
        deadline = time.monotonic() + 5
        while store.dirty and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    asyncio.run(main())
    assert not store.dirty  # ...and the last state reached the file by itself
    assert read_ledger(plan.paths.ledger, "x").runs[0].training.attempts == 20


def test_without_an_event_loop_every_change_is_written_at_once(tmp_path):
    plan = make_plan(tmp_path, seeds=1)
    store = LedgerStore(plan.paths.ledger, new_ledger(plan), duty=0.0001)
    store.save()
    store.ledger.runs[0].training.status = Status.FAILED
    store.changed()
    assert read_ledger(plan.paths.ledger, "x").runs[0].training.status == Status.FAILED


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": "archbench-results-v1", "experiment_id": "x", "runs": [', "is corrupt (JSONDecodeError"),
        ("\x00\x01garbage", "is corrupt"),
        ('{"some": "other tool"}', "is not an archbench results file (format None"),
        ("[1, 2]", "is not an archbench results file"),
        ('{"format": "archbench-results-v1", "experiment_id": "other"}', "belongs to experiment 'other', not 'x'"),
        ('{"format": "archbench-results-v1", "experiment_id": "x", "runs": 3}', "does not match the results schema"),
    ],
)
def test_refuses_corrupt_or_foreign_files_in_one_line(tmp_path, content, message):
    path = tmp_path / "benchmark_results.json"
    path.write_text(content)
    with pytest.raises(LedgerError) as err:
        read_ledger(path, "x")
    text = str(err.value)
    assert message in text and "refusing to touch it" in text and "\n" not in text
    assert path.read_text() == content


def test_missing_file_is_a_new_experiment(tmp_path):
    assert read_ledger(tmp_path / "nope.json", "x") is None


def test_incremental_rewrite_matches_a_full_one(tmp_path):
    """Only touched runs are serialised again; the file must still equal a from-scratch serialisation."""
    from orchestration_helpers import new_store, run_scheduler

    from benchmark.orchestration.backends.fake import FakeBackend, FakeOutcome
    from benchmark.orchestration.ledger import Ledger

    plan = make_plan(tmp_path, archs=["a", "b", "c"], seeds=2)
    store = new_store(plan)
    outcome = run_scheduler(
        plan,
        store,
        FakeBackend(
            script=lambda s: FakeOutcome(duration=0.005, exit_code=s.attempt - 1 if s.job_id.endswith("0.train") else 0)
        ),
    )
    assert outcome.complete
    on_disk = Ledger.model_validate_json(plan.paths.ledger.read_text())
    assert on_disk.model_dump(exclude={"updated_time"}) == store.ledger.model_dump(exclude={"updated_time"})
    text = plan.paths.ledger.read_text()
    assert text.count('\n{"run_id": ') == 0 and text.count('\n{"run_id":') == len(plan.runs)  # one line per run
