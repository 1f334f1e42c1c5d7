"""The adaptive policy of `--adaptive`: how many seeds each (architecture, level) cell needs, decided by AdaStop.

AdaStop (Mathieu et al. 2023; the authors' `adastop` package) compares every pair of architectures on a level
with a group-sequential permutation test whose step-down procedure bounds the family-wise error over all pairs
by `alpha`. Interim k looks at the first (k+1) x n seeds of every architecture still in an undecided pair; a pair
is decided ("larger"/"smaller") as soon as its statistic crosses the boundary; after `max_stages` interims
what is left is "equal" (no difference found at the cap). Only architectures in undecided pairs get n more seeds.

The policy holds no state that matters: `analyse(ledger)` replays every interim from the ledger's finished
evaluations in seed order, so a controller killed mid-experiment and started again reaches the same decisions
(the permutations come from a seed per level). Replays are memoised on their inputs: an interim is computed once.
"""

from __future__ import annotations

import copy
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.orchestration.ledger import (
    AdaptiveRecord,
    Comparison,
    Interim,
    Ledger,
    LevelDecisions,
    RunRecord,
    Status,
)
from benchmark.orchestration.plan import PlannedJob, Role

METRICS = ("reward_per_agent", "hearts_per_agent")
DONE, DECIDING, CAP, BLOCKED = "decided", "deciding", "cap reached", "blocked"


@dataclass(frozen=True)
class SequentialConfig:
    seeds_per_stage: int = 5  # n: seeds added per interim (AdaStop's n)
    max_stages: int = 4  # K: interims; a cell gets at most n x K seeds
    alpha: float = 0.05  # family-wise error over all pairs of a level
    permutations: int = 10_000  # B
    metric: str = "reward_per_agent"  # mean over the level's evaluations (basic, combat)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric {self.metric!r}: valid are {', '.join(METRICS)}")
        if self.seeds_per_stage < 2 or self.max_stages < 1 or not 0 < self.alpha < 1 or self.permutations < 10:
            raise ValueError("seeds_per_stage >= 2, max_stages >= 1, 0 < alpha < 1 and permutations >= 10")

    @property
    def max_seeds(self) -> int:
        return self.seeds_per_stage * self.max_stages

    def first_interim_can_decide(self, architectures: int) -> bool:
        """A permutation test of n vs n seeds has p-values no smaller than 1 / C(2n, n): with too few seeds the
        first interim's share of the package's level (alpha / 2 / K, see `comparator`) is out of reach and only
        later interims can decide."""
        return architectures < 2 or 1 / math.comb(2 * self.seeds_per_stage, self.seeds_per_stage) <= (
            self.alpha / 2 / self.max_stages
        )


def comparator(n: int, stages: int, permutations: int, alpha: float, seed: int, beta: float = 0.0):
    """AdaStop's comparator (the `adastop` package) with a family-wise error of at most `alpha`.

    The package (0.1.3, and its repository's latest) draws its boundary from the permutation distribution of the
    *signed* largest mean difference, but tests the *absolute* one: a pair is declared different when |D| passes
    the one-sided (1 - level) quantile of D. For one pair that rejects with probability 2 x level under the null
    (measured: 0.095 of the exact permutation distribution at level 0.05; 0.09 of 300 simulated null
    experiments). The permutation distribution is symmetric in sign, so P(max |D| > b) <= 2 P(max D > b): asking
    the package for alpha / 2 bounds the two-sided error by alpha (tests/test_adaptive.py checks the boundary
    against the exact distribution)."""
    from adastop import MultipleAgentsComparator  # imported only by --adaptive (it imports matplotlib)

    return MultipleAgentsComparator(n=n, K=stages, B=permutations, alpha=alpha / 2, beta=beta, seed=seed)


def run_score(run: RunRecord, metric: str) -> float | None:
    """The run's score: its metric averaged over the level's evaluations; None until it is evaluated."""
    metrics = run.evaluation.metrics
    if run.evaluation.status != Status.SUCCESS or metrics is None or not metrics.simulations:
        return None
    values = [getattr(sim, metric).mean for sim in metrics.simulations.values()]
    return float(np.mean(values))


def run_broken(run: RunRecord) -> str | None:
    """Why a run will never give a score (its training or evaluation failed or was skipped), else None."""
    for job in (run.training, run.evaluation):
        if job.status in (Status.FAILED, Status.SKIPPED) and not (
            job is run.training and run.evaluation.status == Status.SUCCESS  # --skip-training evaluated it
        ):
            return f"{job.job_id} {job.status.value}"
    return None


class SequentialSeeds:
    """AdaStop per level over the given architectures; `wanted()` says how many seeds each cell needs now."""

    def __init__(self, architectures: Sequence[str], levels: Sequence[str], config: SequentialConfig):
        if len(set(architectures)) < 2:
            raise ValueError("--adaptive compares architectures: give at least two")
        self.architectures = list(architectures)
        self.levels = list(levels)
        self.config = config
        self._memo: dict[tuple, object] = {}  # interim inputs -> the comparator after that interim
        self._levels: dict[str, tuple[tuple, LevelDecisions]] = {}  # level -> (its scores, its decisions)

    # ---- the analysis --------------------------------------------------------------------------------------

    def analyse(self, ledger: Ledger) -> AdaptiveRecord:
        c = self.config
        scores: dict[tuple[str, str], dict[int, float | str]] = {}
        for run in ledger.runs:
            key = (run.architecture, run.level)
            score = run_score(run, c.metric)
            if score is not None:
                scores.setdefault(key, {})[run.seed] = score
            elif (why := run_broken(run)) is not None:
                scores.setdefault(key, {})[run.seed] = why
        return AdaptiveRecord(
            method="AdaStop (the adastop package, asked for alpha / 2: its boundary is one-sided): group-sequential "
            "permutation tests, step-down over all pairs",
            metric=c.metric,
            alpha=c.alpha,
            seeds_per_stage=c.seeds_per_stage,
            max_stages=c.max_stages,
            permutations=c.permutations,
            levels={level: self._cached_level(level, scores) for level in self.levels},
        )

    def _cached_level(self, level: str, scores: Mapping[tuple[str, str], Mapping[int, float | str]]) -> LevelDecisions:
        key = tuple(sorted((a, seed, v) for (a, lv), cell in scores.items() if lv == level for seed, v in cell.items()))
        cached = self._levels.get(level)
        if cached is None or cached[0] != key:
            cached = self._levels[level] = (key, self._level(level, scores))
        return cached[1].model_copy(deep=True)

    def _level(self, level: str, scores: Mapping[tuple[str, str], Mapping[int, float | str]]) -> LevelDecisions:
        c, archs, n = self.config, self.architectures, self.config.seeds_per_stage
        tester = comparator(n, c.max_stages, c.permutations, c.alpha, seed=c.seed + zlib.crc32(level.encode()))
        record = LevelDecisions(status=DECIDING, seeds={a: n for a in archs})
        active = list(archs)
        values: dict[str, list[float]] = {a: [] for a in archs}
        inputs: tuple = (level,)
        for stage in range(c.max_stages):
            need = (stage + 1) * n
            record.seeds.update({a: need for a in active})
            batch: dict[str, list[float]] = {}
            for arch in active:
                cell = scores.get((arch, level), {})
                got = [cell.get(seed) for seed in range(stage * n, need)]
                broken = [g for g in got if isinstance(g, str)]
                if broken:
                    record.status = f"{BLOCKED}: {broken[0]} (no score: the comparison cannot go on)"
                    return record
                if any(g is None for g in got):
                    return record  # this interim waits for its evaluations
                batch[arch] = [float(g) for g in got]  # type: ignore[arg-type]
            for arch, got in batch.items():
                values[arch] = values[arch] + got
            inputs = (*inputs, tuple((a, tuple(v)) for a, v in sorted(batch.items())))
            before = dict(tester.decisions) if stage else {}
            if inputs in self._memo:
                tester = copy.deepcopy(self._memo[inputs])
            else:
                tester.partial_compare({a: np.asarray(values[a]) for a in archs}, verbose=False)
                self._memo[inputs] = copy.deepcopy(tester)
            boundary = float(tester.boundary[-1][1])
            newly = [k for k, d in tester.decisions.items() if d != "continue" and before.get(k) != d]
            record.interims.append(
                Interim(
                    stage=stage,
                    seeds={a: len(values[a]) for a in archs},
                    boundary=boundary if math.isfinite(boundary) else None,
                    decided=[self._pair_name(k) for k in newly],
                )
            )
            record.comparisons = self._comparisons(tester, values, record)
            if tester.is_finished:
                undecided_at_cap = any(cmp.decision == "equal" for cmp in record.comparisons)
                record.status = CAP if undecided_at_cap and stage == c.max_stages - 1 else DONE
                return record
            in_play = {int(i) for pair in tester.current_comparisons for i in pair}
            active = [archs[i] for i in sorted(in_play)]
        return record

    def _pair_name(self, key: str) -> str:
        i, j = (int(x) for x in key.strip("[]").split())
        return f"{self.architectures[i]} vs {self.architectures[j]}"

    def _comparisons(self, tester, values: dict[str, list[float]], record: LevelDecisions) -> list[Comparison]:
        old = {(cmp.a, cmp.b): cmp for cmp in record.comparisons}
        stage = record.interims[-1].stage
        out = []
        for key, decision in tester.decisions.items():
            i, j = (int(x) for x in key.strip("[]").split())
            a, b = self.architectures[i], self.architectures[j]
            prev = old.get((a, b))
            if prev is not None and prev.decision != "continue":
                out.append(prev)  # decided earlier: frozen as it was
                continue
            mean_a, mean_b = float(np.mean(values[a])), float(np.mean(values[b]))
            out.append(
                Comparison(
                    a=a,
                    b=b,
                    decision=decision,
                    stage=stage if decision != "continue" else None,
                    statistic=(stage + 1) * abs(mean_a - mean_b),
                    mean_a=mean_a,
                    mean_b=mean_b,
                )
            )
        return out

    # ---- what to run ---------------------------------------------------------------------------------------

    def wanted(self, record: AdaptiveRecord) -> dict[tuple[str, str], int]:
        """Seeds each (architecture, level) cell must have: n to start, n more per interim while undecided."""
        return {(arch, level): count for level, lv in record.levels.items() for arch, count in lv.seeds.items()}


SIGN = {"larger": ">", "smaller": "<", "equal": "=", "continue": "?"}


def describe_comparison(cmp: Comparison) -> str:
    """`fast < puffer (interim 1)`: interims counted from 1 for people."""
    when = {"continue": "undecided", "equal": "no difference found by the seed cap"}.get(
        cmp.decision, f"interim {(cmp.stage or 0) + 1}"
    )
    return f"{cmp.a} {SIGN[cmp.decision]} {cmp.b} ({when})"


def describe_level(level: str, decisions: LevelDecisions) -> str:
    """One line per level for the console: status, the decisions, the seeds each architecture got."""
    runs = sum(decisions.seeds.values())
    seeds = ", ".join(f"{a} {n}" for a, n in decisions.seeds.items())
    pairs = "; ".join(describe_comparison(c) for c in decisions.comparisons) or "no interim yet"
    interims = len(decisions.interims)
    return f"{level}: {decisions.status} after {interims} interim(s); {pairs}; seeds {seeds} ({runs} runs)"


class AdaptiveSource:
    """The scheduler's job source under --adaptive: after each ended job, analyse again; new seeds become jobs.

    `add_cells(cells)` turns "seeds per cell" into the jobs the plan lacks, with their ledger records."""

    def __init__(
        self, policy: SequentialSeeds, ledger: Ledger, add_cells: Callable[[dict[tuple[str, str], int]], list]
    ):
        self.policy, self.ledger, self.add_cells = policy, ledger, add_cells
        self._news: list[str] = []
        levels = ledger.adaptive.levels if ledger.adaptive else {}
        self._seen = {level: (len(lv.interims), lv.status) for level, lv in levels.items()}
        self._grown: dict[tuple[str, str], int] | None = None  # the cells the plan was last grown to

    def update(self) -> dict[tuple[str, str], int]:
        """Analyse the ledger, record the decisions in it, and return the seeds each cell needs."""
        self.ledger.adaptive = self.policy.analyse(self.ledger)
        for level, decisions in self.ledger.adaptive.levels.items():
            state = (len(decisions.interims), decisions.status)
            if state != self._seen.get(level, (0, DECIDING)):
                self._news.append(describe_level(level, decisions))
            self._seen[level] = state
        return self.policy.wanted(self.ledger.adaptive)

    def news(self) -> list[str]:
        news, self._news = self._news, []
        return news

    def after(self, job: PlannedJob) -> list[PlannedJob]:
        if job.role == Role.BASELINE:
            return []
        wanted = self.update()
        if wanted == self._grown:  # most jobs decide nothing new: no plan to build
            return []
        self._grown = wanted
        return self.add_cells(wanted)
