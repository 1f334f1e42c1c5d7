"""The adaptive policy of `--adaptive`: the seeds each (architecture, level) cell needs, decided by tests per interim.

At each interim k every undecided pair of architectures on a level gets an exact permutation p-value on all its
seeds so far, and Holm's step-down over the pairs runs at that interim's share of `alpha`: the interims that can
decide at all share it equally (Bonferroni over interims), so the probability of declaring any difference that is
not there is at most `alpha`. A pair is decided ("larger"/"smaller") when Holm rejects it; a pair whose
conditional power at the seed cap is below `futility` stops asking for seeds ("futile": no difference expected
by the cap); after K interims what is left is "equal" (no difference found at the cap). Only architectures in a
pair still open get n more seeds. Why not the `adastop` package: `interim_test`.

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
from statistics import NormalDist

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
    # a pair whose conditional power at the cap is below this stops asking for seeds (0: never); measured in
    # benchmarks/adaptive_simulation.py (docs/adaptive.md)
    futility: float = 0.2

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric {self.metric!r}: valid are {', '.join(METRICS)}")
        if self.seeds_per_stage < 2 or self.max_stages < 1 or not 0 < self.alpha < 1 or self.permutations < 10:
            raise ValueError("seeds_per_stage >= 2, max_stages >= 1, 0 < alpha < 1 and permutations >= 10")
        if not 0 <= self.futility < 1:
            raise ValueError(f"futility {self.futility}: a conditional power in [0, 1)")

    @property
    def max_seeds(self) -> int:
        return self.seeds_per_stage * self.max_stages

    def first_deciding_interim(self, architectures: int) -> int | None:
        """The first interim (0-based) that can decide with alpha shared equally from it on; None: none can.

        n vs n seeds give two-sided permutation p-values of at least 2 / C(2n, n): an interim whose seeds cannot
        reach Holm's first step (its share / pairs) would spend its share for nothing."""
        pairs, n, k_max = max(1, architectures * (architectures - 1) // 2), self.seeds_per_stage, self.max_stages
        for first in range(k_max):
            seeds = (first + 1) * n
            if architectures < 2 or 2 / math.comb(2 * seeds, seeds) <= self.alpha / (k_max - first) / pairs:
                return first
        return None

    def interim_levels(self, architectures: int) -> tuple[float, ...]:
        """The family-wise level each interim spends: alpha shared equally by the interims from the first that can
        decide; the earlier ones only stop futile pairs. Fixed by the design, never by the data, so the Bonferroni
        bound over interims holds."""
        first = self.first_deciding_interim(architectures)
        if first is None:
            return (self.alpha / self.max_stages,) * self.max_stages  # nothing can be decided: say so, spend evenly
        return (0.0,) * first + (self.alpha / (self.max_stages - first),) * (self.max_stages - first)

    def seeds_to_decide_first(self, architectures: int) -> int:
        """The fewest seeds per interim whose first interim can decide."""
        return next(
            n
            for n in range(2, 64)
            if SequentialConfig(n, self.max_stages, self.alpha).first_deciding_interim(architectures) == 0
        )


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
    values: Mapping[str, Sequence[float]],
    pairs: Sequence[tuple[str, str]],
    permutations: int,
    level: float,
    seed: int,
    untested: int = 0,
) -> tuple[float | None, dict[tuple[str, str], tuple[str, float]]]:
    """One interim: a permutation p-value per pair on every seed so far, Holm's step-down over the pairs at
    family-wise level `level`, with `untested` more pairs in the family that are never rejected (futile pairs:
    p = 1, so stopping a pair for futility never makes the others easier to decide). Returns (the p-value the
    first pair left undecided had to reach, or None when every pair was decided; pair -> (decision, p-value) for
    every pair tested, decision "larger", "smaller" or "continue").

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
        threshold = level / (len(order) + untested - rank)
        p_value, diff = tested[pair]
        if p_value > threshold:
            return threshold, out
        out[pair] = ("larger" if diff > 0 else "smaller", p_value)
    return None, out


def conditional_power(x: np.ndarray, y: np.ndarray, cap: int, level: float) -> float:
    """The chance that the pair is decided by `cap` seeds each if the difference seen so far is the true one: the
    B-value projection under the current trend (Lan and Wittes 1988), normal approximation of the mean
    difference, two-sided at `level`. Low: more seeds would very likely end at "no difference found" anyway."""
    na, nb = len(x), len(y)
    if min(na, nb) < 2:
        return 1.0
    var = ((na - 1) * x.var(ddof=1) + (nb - 1) * y.var(ddof=1)) / (na + nb - 2)
    diff = abs(float(x.mean() - y.mean()))
    info = 2 / cap / (1 / na + 1 / nb)  # the information so far, as a fraction of the cap's
    if info >= 1:
        return 0.0  # at the cap already: nothing more to gain
    if var <= 0:
        return 1.0 if diff > 0 else 0.0
    z = diff / math.sqrt(var * (1 / na + 1 / nb))
    normal = NormalDist()
    return normal.cdf((z / math.sqrt(info) - normal.inv_cdf(1 - level / 2)) / math.sqrt(1 - info))


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
            "the interim's share of alpha (Bonferroni over the interims that can decide), futile pairs stopped by "
            "conditional power",
            metric=c.metric,
            alpha=c.alpha,
            seeds_per_stage=c.seeds_per_stage,
            max_stages=c.max_stages,
            permutations=c.permutations,
            futility=c.futility,
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
        levels = c.interim_levels(len(archs))
        decided: dict[tuple[str, str], tuple[str, int]] = {}  # pair -> (larger / smaller / futile, interim)
        p_values: dict[tuple[str, str], float] = {}  # pair -> its p-value at the last interim that tested it
        power: dict[tuple[str, str], float] = {}  # pair -> its conditional power when last judged
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
            futile = sum(1 for d, _ in decided.values() if d == "futile")
            seed = c.seed + zlib.crc32(f"{level}/{stage}".encode())  # the same seeds: the same decisions
            boundary, tested = interim_test(values, undecided, c.permutations, levels[stage], seed, untested=futile)
            newly = [pair for pair, (decision, _) in tested.items() if decision != "continue"]
            decided.update({pair: (tested[pair][0], stage) for pair in newly})
            p_values.update({pair: p_value for pair, (_, p_value) in tested.items()})
            last = stage == c.max_stages - 1
            stopped = []
            # futility is judged where the seeds could decide: fewer are too noisy to call a pair hopeless
            judged = not last and c.futility > 0 and levels[stage] > 0
            for pair in [p for p in undecided if p not in decided] if judged else []:
                x, y = (np.asarray(values[arch]) for arch in pair)
                power[pair] = conditional_power(x, y, c.max_seeds, levels[-1])
                if power[pair] < c.futility:
                    decided[pair] = ("futile", stage)
                    stopped.append(pair)
            record.interims.append(
                Interim(
                    stage=stage,
                    seeds={a: len(values[a]) for a in archs},
                    level=levels[stage],
                    boundary=boundary,
                    decided=[f"{a} vs {b}" for a, b in newly],
                    futile=[f"{a} vs {b}" for a, b in stopped],
                )
            )
            record.comparisons = [
                self._comparison(pair, decided, values, stage, last, p_values.get(pair), power.get(pair))
                for pair in pairs
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
        power: float | None,
    ) -> Comparison:
        """A pair as it stands after interim `stage`; a decided (or futile) pair keeps the means it ended on."""
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
            conditional_power=power,
        )

    # ---- what to run ---------------------------------------------------------------------------------------

    def wanted(self, record: AdaptiveRecord) -> dict[tuple[str, str], int]:
        """Seeds each (architecture, level) cell must have: n to start, n more per interim while undecided."""
        return {(arch, level): count for level, lv in record.levels.items() for arch, count in lv.seeds.items()}


SIGN = {"larger": ">", "smaller": "<", "equal": "=", "futile": "~", "continue": "?"}


def describe_comparison(cmp: Comparison) -> str:
    """`fast < puffer (interim 1)`: interims counted from 1 for people."""
    stage = f"interim {(cmp.stage or 0) + 1}"
    when = {
        "continue": "undecided",
        "equal": "no difference found by the seed cap",
        "futile": f"no difference expected by the cap, stopped at {stage}",
    }.get(cmp.decision, stage)
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
