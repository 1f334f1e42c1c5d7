"""`--reevaluate`: evaluate an experiment's checkpoints again (a fixed evaluator, more episodes), losing nothing.

Every finished evaluation and baseline of the plan becomes pending again. Its result moves to the record's
`previous` list and its file to `eval.<k>.json` (`baselines/<level>.<k>.json`) beside it, so the report reads the
new result while the old one stays on disk and in the ledger.
"""

from __future__ import annotations

import os

from benchmark.orchestration.jobs import record_for
from benchmark.orchestration.ledger import EvaluationRecord, Ledger, Status
from benchmark.orchestration.plan import Plan, Role


def reopen_evaluations(ledger: Ledger, plan: Plan) -> int:
    """Make every finished evaluation of the plan pending again; returns how many were reopened."""
    reopened = 0
    for job in plan.jobs:
        if job.role == Role.TRAIN:
            continue
        rec = record_for(ledger, job)
        assert isinstance(rec, EvaluationRecord)
        if rec.status != Status.SUCCESS or rec.metrics is None:
            continue
        kept = job.output.with_name(f"{job.output.stem}.{len(rec.previous) + 1}{job.output.suffix}")
        if job.output.exists():
            os.replace(job.output, kept)
        rec.previous.append(rec.metrics.model_copy(update={"file": str(kept)}))
        rec.status, rec.metrics, rec.error = Status.PENDING, None, None
        reopened += 1
    return reopened
