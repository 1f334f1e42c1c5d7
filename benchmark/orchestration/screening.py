"""The screening policy of `--screen`: successive halving over architectures, level by level.

Rung 0 trains every architecture on a level at the full budget / 2^(R-1) (R rungs); once all of a rung's runs
on that level are evaluated, the architectures are ranked by their median score over seeds (the metric averaged
over the level's evaluations, as `--adaptive` uses; the median, so that one collapsed seed of three does not
sink an architecture) and the better half continues at twice the budget, until
the last rung trains the survivors at the full budget. A continued run starts from its previous rung's
checkpoint (`archbench train --init-from`), so rung r+1 only trains the difference. A run whose training or
evaluation failed counts as the lowest score. Ties are broken by the registry order.

Only the last rung's runs (ids without `.r<rung>`) enter the report's ranking: they all trained the full budget.
The lower rungs' runs stay in the ledger (`rung` set) and the report's "Screening" section says which
architectures stopped where, with their scores. Like the adaptive policy, this one keeps no state of its own:
`analyse(ledger)` recomputes every rung's decision from the runs, so a restarted controller decides the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.orchestration.ledger import Ledger, RungResult, ScreeningRecord
from benchmark.orchestration.plan import PlannedJob, Role
from benchmark.orchestration.sequential import run_broken, run_score


@dataclass(frozen=True)
class ScreeningConfig:
    rungs: int = 3
    keep: float = 0.5
    metric: str = "reward_per_agent"

    def budget(self, full: int, rung: int) -> int:
        return max(1, full // 2 ** (self.rungs - 1 - rung))


# (level, rung, architectures) -> the jobs the plan lacks for them, with their ledger records
AddRung = Callable[[str, int, list[str]], list[PlannedJob]]


class Screening:
    def __init__(
        self, architectures: Sequence[str], levels: Sequence[str], budgets: Mapping[str, int], config: ScreeningConfig
    ):
        self.architectures, self.levels, self.budgets, self.config = list(architectures), list(levels), budgets, config

    def analyse(self, ledger: Ledger, seeds: int) -> tuple[ScreeningRecord, list[tuple[str, int, list[str]]]]:
        """The record of every rung decided so far, and the (level, rung, architectures) that must be run."""
        c = self.config
        top = c.rungs - 1
        scores: dict[tuple[str, str, int], list[float | None]] = {}
        for run in ledger.runs:
            rung = top if run.rung is None else run.rung
            if run.seed >= seeds:
                continue
            value = run_score(run, c.metric)
            if value is None and run_broken(run) is None:
                continue  # not evaluated yet
            scores.setdefault((run.architecture, run.level, rung), []).append(value)
        record = ScreeningRecord(
            metric=c.metric,
            budgets=[c.budget(max(self.budgets.values()), r) for r in range(c.rungs)],
            keep=c.keep,
        )
        needed = []
        for level in self.levels:
            results: list[RungResult] = []
            alive = list(self.architectures)
            for rung in range(c.rungs):
                needed.append((level, rung, list(alive)))
                if rung == top:
                    break
                got = {a: scores.get((a, level, rung), []) for a in alive}
                if any(len(v) < seeds for v in got.values()):
                    break  # this rung is still running
                means = {a: _median(v) for a, v in got.items()}
                order = sorted(alive, key=lambda a: -(means[a] if means[a] is not None else -math.inf))
                kept = order[: max(1, math.ceil(len(order) * c.keep))]
                results.append(
                    RungResult(
                        rung=rung,
                        budget=c.budget(self.budgets[level], rung),
                        scores=means,
                        kept=kept,
                        stopped=[a for a in order if a not in kept],
                    )
                )
                alive = kept
            record.levels[level] = results
        return record, needed


def _median(values: list[float | None]) -> float | None:
    """The median over seeds, a failed run (None) counting as the lowest; None if the median itself failed."""
    ranked = [-math.inf if v is None else v for v in values]
    median = float(np.median(ranked)) if ranked else -math.inf
    return median if math.isfinite(median) else None


class ScreeningSource:
    """The scheduler's job source under --screen: after each ended job, decide the rungs again; new rungs
    become jobs."""

    def __init__(self, policy: Screening, ledger: Ledger, seeds: int, add_rung: AddRung):
        self.policy, self.ledger, self.seeds, self.add_rung = policy, ledger, seeds, add_rung
        self._news: list[str] = []
        self._seen = {level: len(r) for level, r in (ledger.screening.levels if ledger.screening else {}).items()}
        self._grown: list[tuple[str, int, list[str]]] | None = None  # the rungs the plan was last grown to

    def update(self) -> list[PlannedJob]:
        record, needed = self.policy.analyse(self.ledger, self.seeds)
        self.ledger.screening = record
        for level, rungs in record.levels.items():
            for result in rungs[self._seen.get(level, 0) :]:
                stopped = ", ".join(result.stopped) or "none"
                self._news.append(
                    f"{level}: rung {result.rung} ({result.budget:,} agent steps) decided: continue "
                    f"{', '.join(result.kept)}; stopped {stopped}"
                )
            self._seen[level] = len(rungs)
        if needed == self._grown:  # most jobs decide nothing new: no plan to build
            return []
        self._grown = needed
        added: list[PlannedJob] = []
        for level, rung, archs in needed:
            added += self.add_rung(level, rung, archs)
        return added

    def after(self, job: PlannedJob) -> list[PlannedJob]:
        return [] if job.role == Role.BASELINE else self.update()

    def news(self) -> list[str]:
        news, self._news = self._news, []
        return news
