"""The adaptive policy of `--adaptive`: the seeds each (architecture, level) cell needs, decided by tests per interim.

Every pair of architectures on a level is compared at each interim k by a permutation test on the first (k+1) x n
seeds of every architecture still in an undecided pair (the `adastop` package's test, after AdaStop, Mathieu et
al. 2023), step-down over the undecided pairs at family-wise level alpha / K: over the K interims (Bonferroni)
the probability of declaring any difference that is not there is at most `alpha`. A pair is decided
("larger"/"smaller") when its statistic crosses the boundary; after K interims what is left is "equal" (no
difference found at the cap). Only architectures in undecided pairs get n more seeds. Why not the package's own
group-sequential mode: `interim_test`.

The policy holds no state that matters: `analyse(ledger)` replays every interim from the ledger's finished
evaluations in seed order, so a controller killed mid-experiment and started again reaches the same decisions
(the permutations come from a seed per level and interim). A level is analysed again only when its scores
change."""

from __future__ import annotations

import functools
import itertools
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
    seeds_per_stage: int = 5  # n: seeds added per interim
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

    def first_holm_level(self, architectures: int) -> float:
        """The p-value Holm's first step asks for at an interim where every pair is undecided: alpha / K / pairs."""
        return self.alpha / self.max_stages / max(1, architectures * (architectures - 1) // 2)

    def can_decide(self, n: int, architectures: int) -> bool:
        """Whether an interim of n seeds per architecture can decide a pair at all: n vs n seeds have two-sided
        permutation p-values no smaller than 2 / C(2n, n)."""
        return architectures < 2 or 2 / math.comb(2 * n, n) <= self.first_holm_level(architectures)

    def first_interim_can_decide(self, architectures: int) -> bool:
        return self.can_decide(self.seeds_per_stage, architectures)

    def seeds_to_decide_first(self, architectures: int) -> int:
        """The fewest seeds per interim whose first interim can decide."""
        return next(n for n in range(2, 64) if self.can_decide(n, architectures))


EXACT_SPLITS = 20_000  # up to this many splits of a pair's seeds a p-value enumerates them all (10 vs 10: 184,756)


@functools.cache
def all_splits(total: int, n: int) -> np.ndarray:
    """Every way to pick the first group of n out of `total` seeds, one boolean row each (read-only, shared)."""
    first = np.zeros((math.comb(total, n), total), dtype=bool)
    for row, chosen in enumerate(itertools.combinations(range(total), n)):
        first[row, list(chosen)] = True
    first.setflags(write=False)
    return first


def pair_p_value(x: np.ndarray, y: np.ndarray, permutations: int, rng: np.random.Generator) -> float:
    """Two-sided permutation p-value of |mean x - mean y|: every split of the pooled seeds into two groups of the
    same sizes when there are at most EXACT_SPLITS of them, else `permutations` random splits and the observed."""
    pooled, n = np.concatenate([x, y]), len(x)
    observed = abs(float(x.mean() - y.mean()))
    exact = math.comb(len(pooled), n) <= EXACT_SPLITS
    if exact:
        first = all_splits(len(pooled), n)
    else:
        first = np.argsort(rng.random((permutations, len(pooled))), axis=1) < n
    diffs = np.abs(first @ pooled / n - (~first) @ pooled / (len(pooled) - n))
    extreme = int((diffs >= observed - 1e-9 * max(1.0, observed)).sum())
    if exact:
        return extreme / len(diffs)  # the observed split is one of them
    return (1 + extreme) / (1 + len(diffs))


def interim_test(
    values: Mapping[str, Sequence[float]], pairs: Sequence[tuple[str, str]], permutations: int, level: float, seed: int
) -> tuple[float | None, dict[tuple[str, str], tuple[str, float]]]:
    """One interim: a permutation p-value per pair on every seed so far, Holm's step-down over the pairs at
    family-wise level `level`. Returns (the p-value the first pair left undecided had to reach, or None when every
    pair was decided; pair -> (decision, p-value) for every pair tested, decision "larger", "smaller" or
    "continue").

    Holm keeps the family-wise error within `level` whatever the dependence between pairs, and each pair's
    p-value is exact (or Monte Carlo with the observed split counted). Why not the `adastop` package, measured in
    null experiments (docs/adaptive.md): its group-sequential mode declared a difference in 0.1025 of them at
    0.05 (it tests |D| against a quantile of the signed D: a one-sided boundary), still 0.067 of 2,000 asked for
    0.025, and its single-test mode enumerates splits coupled across pairs (0.067) or, with random splits, has too
    coarse a resolution at 5 seeds to decide at a first interim.
    """
    rng = np.random.default_rng(seed)
    tested = {}
    for a, b in pairs:
        x, y = np.asarray(values[a], dtype=float), np.asarray(values[b], dtype=float)
        tested[(a, b)] = (pair_p_value(x, y, permutations, rng), float(x.mean() - y.mean()))
    out: dict[tuple[str, str], tuple[str, float]] = {pair: ("continue", pv) for pair, (pv, _) in tested.items()}
    order = sorted(tested, key=lambda pair: tested[pair][0])
    for rank, pair in enumerate(order):
        threshold = level / (len(order) - rank)
        p_value, diff = tested[pair]
        if p_value > threshold:
            return threshold, out
        out[pair] = ("larger" if diff > 0 else "smaller", p_value)
    return None, out


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
    """Tests per level over the given architectures; `wanted()` says how many seeds each cell needs now."""

    def __init__(self, architectures: Sequence[str], levels: Sequence[str], config: SequentialConfig):
        if len(set(architectures)) < 2:
            raise ValueError("--adaptive compares architectures: give at least two")
        self.architectures = list(architectures)
        self.levels = list(levels)
        self.config = config
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
            method="an exact permutation test per pair at each interim, Holm's step-down over the undecided pairs at "
            "alpha / K per interim (Bonferroni over interims)",
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
        record = LevelDecisions(status=DECIDING, seeds={a: n for a in archs})
        pairs = [(a, b) for i, a in enumerate(archs) for b in archs[i + 1 :]]
        decided: dict[tuple[str, str], tuple[str, int]] = {}  # pair -> (larger / smaller, interim)
        p_values: dict[tuple[str, str], float] = {}  # pair -> its p-value at the last interim that tested it
        active = list(archs)
        values: dict[str, list[float]] = {a: [] for a in archs}
        for stage in range(c.max_stages):
            need = (stage + 1) * n
            record.seeds.update({a: need for a in active})
            for arch in active:
                cell = scores.get((arch, level), {})
                got = [cell.get(seed) for seed in range(stage * n, need)]
                broken = [g for g in got if isinstance(g, str)]
                if broken:
                    record.status = f"{BLOCKED}: {broken[0]} (no score: the comparison cannot go on)"
                    return record
                if any(g is None for g in got):
                    return record  # this interim waits for its evaluations
            for arch in active:
                cell = scores[(arch, level)]
                values[arch] = [float(cell[seed]) for seed in range(need)]  # type: ignore[arg-type]
            undecided = [pair for pair in pairs if pair not in decided]
            seed = c.seed + zlib.crc32(f"{level}/{stage}".encode())  # the same seeds: the same decisions
            boundary, tested = interim_test(values, undecided, c.permutations, c.alpha / c.max_stages, seed)
            newly = [pair for pair, (decision, _) in tested.items() if decision != "continue"]
            decided.update({pair: (tested[pair][0], stage) for pair in newly})
            p_values.update({pair: p_value for pair, (_, p_value) in tested.items()})
            record.interims.append(
                Interim(
                    stage=stage,
                    seeds={a: len(values[a]) for a in archs},
                    boundary=boundary,
                    decided=[f"{a} vs {b}" for a, b in newly],
                )
            )
            last = stage == c.max_stages - 1
            record.comparisons = [
                self._comparison(pair, decided, values, stage, last, p_values.get(pair)) for pair in pairs
            ]
            still = [pair for pair in pairs if pair not in decided]
            if not still or last:
                record.status = CAP if still else DONE
                return record
            active = [a for a in archs if any(a in pair for pair in still)]
        return record

    def _comparison(
        self,
        pair: tuple[str, str],
        decided: Mapping[tuple[str, str], tuple[str, int]],
        values: Mapping[str, list[float]],
        stage: int,
        last: bool,
        p_value: float | None,
    ) -> Comparison:
        """A pair as it stands after interim `stage`; a decided pair keeps the means it was decided on."""
        a, b = pair
        decision, when = decided.get(pair, ("equal" if last else "continue", stage))
        n = (when + 1) * self.config.seeds_per_stage
        mean_a, mean_b = float(np.mean(values[a][:n])), float(np.mean(values[b][:n]))
        return Comparison(
            a=a,
            b=b,
            decision=decision,
            stage=when if decision != "continue" else None,
            statistic=abs(mean_a - mean_b),
            mean_a=mean_a,
            mean_b=mean_b,
            p_value=p_value,
        )

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
