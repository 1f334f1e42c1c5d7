"""--adaptive: tests per interim decide where seeds go; the real controller on the fake backend, scores known."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from benchmark.errors import UsageError
from benchmark.orchestration.backends import BackendUnavailable
from benchmark.orchestration.backends.fake import FakeBackend, FakeOutcome, parse_options
from benchmark.orchestration.controller import run_experiment
from benchmark.orchestration.ledger import read_ledger
from benchmark.orchestration.options import resolve_options
from benchmark.orchestration.sequential import SequentialConfig, SequentialSeeds, describe_level

LEVEL = "level_1_basic"
# puffer is clearly better; fast and fast_lstm_reset are the same distribution
MEANS = {"fast": 1.0, "fast_lstm_reset": 1.0, "puffer": 3.0}
ARCHS = list(MEANS)


def score(arch: str, seed: int) -> float:
    rng = np.random.default_rng([seed, ARCHS.index(arch)])
    return float(rng.normal(MEANS[arch], 0.3))


def script(spec) -> FakeOutcome:
    command, opts = parse_options(spec.argv)
    if command == "evaluate" and "run" in opts:
        run = Path(opts["run"]).name.split(".")  # <experiment>.<arch>.<level>.s<seed>
        return FakeOutcome(duration=0.0, reward=score(run[1], int(run[-1][1:])))
    return FakeOutcome(duration=0.0)


@dataclass
class FailingAfter(FakeBackend):
    """The backend goes away after `limit` launches: the controller stops there, mid-experiment."""

    limit: int = 10**9

    async def submit(self, spec):
        if len(self.launches) >= self.limit:
            raise BackendUnavailable("backend gone (test)")
        return await super().submit(spec)


def options(tmp_path: Path, **extra):
    values = dict(
        experiment_id="ad",
        timesteps=1000,
        local=True,
        adaptive=True,
        seeds_per_level=6,
        max_seeds=18,
        futility=0.0,  # Holm alone; the futility stop has its own test
        architectures=",".join(ARCHS),
        levels=LEVEL,
        output_dir=tmp_path,
        wandb_mode="disabled",
        max_parallel=4,
    )
    values.update(extra)
    return resolve_options(values)


def run(tmp_path: Path, backend=None, **extra) -> int:
    backend = backend or FakeBackend(script=script)
    return run_experiment(options(tmp_path, **extra), "resume", backend=backend, console=Console(), live=False)


def ledger(tmp_path: Path):
    return read_ledger(tmp_path / "ad" / "benchmark_results.json", "ad")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adaptive")
    backend = FakeBackend(script=script)
    code = run_experiment(options(tmp), "resume", backend=backend, console=Console(), live=False)
    return tmp, code, backend


def test_a_clear_comparison_ends_at_the_first_interim_and_a_close_one_gets_more_seeds(finished):
    tmp, code, backend = finished
    assert code == 0
    record = ledger(tmp).adaptive
    level = record.levels[LEVEL]
    decided = {(c.a, c.b): c for c in level.comparisons}
    assert decided[("fast", "puffer")].decision == "smaller" and decided[("fast", "puffer")].stage == 0
    assert decided[("fast_lstm_reset", "puffer")].decision == "smaller"
    assert decided[("fast", "fast_lstm_reset")].decision == "equal"  # the same distribution: not told apart
    assert level.seeds == {"fast": 18, "fast_lstm_reset": 18, "puffer": 6}  # the close pair reached the cap
    assert level.status == "cap reached"
    assert [i.seeds for i in level.interims][0] == {"fast": 6, "fast_lstm_reset": 6, "puffer": 6}
    assert len(level.interims) == 3
    runs = {(r.architecture, r.seed) for r in ledger(tmp).runs}
    assert runs == {(a, s) for a, n in level.seeds.items() for s in range(n)}  # only the seeds asked for ran
    evals = [job for job, _ in backend.launches if job.endswith(".eval") and ".baseline." not in job]
    assert len(evals) == 42
    # the recorded means are the fake scores of exactly those seeds
    assert decided[("fast", "puffer")].mean_b == pytest.approx(np.mean([score("puffer", s) for s in range(6)]))
    line = describe_level(LEVEL, level)
    assert "fast < puffer (interim 1)" in line and "(42 runs)" in line


def test_the_decisions_replay_from_the_ledger(finished):
    tmp, _, _ = finished
    led = ledger(tmp)
    config = SequentialConfig(seeds_per_stage=6, max_stages=3, alpha=0.05, futility=0.0)
    again = SequentialSeeds(ARCHS, [LEVEL], config).analyse(led)
    assert again.model_dump() == led.adaptive.model_dump()


def test_a_controller_stopped_mid_experiment_resumes_to_the_same_decisions(finished, tmp_path):
    done_tmp, _, _ = finished
    with pytest.raises(UsageError, match="backend gone"):
        run(tmp_path, backend=FailingAfter(script=script, limit=41))  # stops inside the second interim
    partial = ledger(tmp_path)
    assert partial.adaptive is not None and len(partial.adaptive.levels[LEVEL].interims) == 1
    succeeded = {job.job_id for r in partial.runs for job in (r.training, r.evaluation) if job.status == "success"}
    assert len(succeeded) >= 30
    backend = FakeBackend(script=script)
    assert run(tmp_path, backend=backend) == 0
    finished_here = {(r.run_id.split(".", 1)[1], r.evaluation.status.value) for r in ledger(tmp_path).runs}
    finished_there = {(r.run_id.split(".", 1)[1], r.evaluation.status.value) for r in ledger(done_tmp).runs}
    assert finished_here == finished_there
    assert ledger(tmp_path).adaptive.model_dump() == ledger(done_tmp).adaptive.model_dump()
    assert not succeeded & {job for job, _ in backend.launches}  # nothing that had succeeded ran again


def test_each_interim_is_shown_as_it_is_decided(tmp_path, capsys):
    assert run(tmp_path, max_seeds=12) == 0
    out = " ".join(capsys.readouterr().out.split())
    first = "decision controller: level_1_basic: deciding after 1 interim(s); fast ? fast_lstm_reset (undecided)"
    assert first + "; fast < puffer (interim 1)" in out
    assert "decision controller: level_1_basic: cap reached after 2 interim(s)" in out


def test_the_controller_says_when_the_first_interim_cannot_decide(tmp_path, capsys):
    opts = options(tmp_path, seeds_per_level=3, max_seeds=12, dry_run=True, probe=False)
    run_experiment(opts, "r", backend=FakeBackend(), console=Console(), live=False)
    out = " ".join(capsys.readouterr().out.split())
    assert "3 seeds per interim give p-values of at least 2/20: the first 1 interim(s) cannot decide" in out
    assert "(they only stop futile pairs; --seeds-per-level 6 lets the first decide)" in out


def test_a_pair_that_cannot_be_decided_by_the_cap_stops_early(tmp_path):
    """fast and fast_lstm_reset are the same distribution: with the default futility (0.2) their pair stops at the
    first interim instead of running both to the cap (18 runs instead of 42), and the ledger and report say so."""
    assert run(tmp_path, futility=None) == 0
    led = ledger(tmp_path)
    assert led.config["futility"] == 0.2 and led.adaptive.futility == 0.2
    level = led.adaptive.levels[LEVEL]
    close = {(c.a, c.b): c for c in level.comparisons}[("fast", "fast_lstm_reset")]
    assert close.decision == "futile" and close.stage == 0 and close.conditional_power < 0.2
    assert level.seeds == {"fast": 6, "fast_lstm_reset": 6, "puffer": 6} and level.status == "decided"
    assert level.interims[0].futile == ["fast vs fast_lstm_reset"] and level.interims[0].level == 0.05 / 3
    assert len(led.runs) == 18
    section = (tmp_path / "ad" / "report" / "report.md").read_text().split("## Adaptive decisions", 1)[1]
    assert "| fast ~ fast_lstm_reset | no difference expected by the cap: stopped early | 1 |" in section
    assert "conditional power" in section
    with pytest.raises(UsageError, match="--futility 0.2, not 0.3"):  # resuming keeps the rule
        options(tmp_path, futility=0.3)


def test_futility_is_judged_only_where_the_seeds_could_decide():
    """4 equal architectures, 5 seeds per interim: the first interim cannot decide (2/252 > alpha / 3 / 6), so it
    stops nothing either; the second (10 seeds each) stops the pairs that cannot be decided by the cap."""
    archs = ["a", "b", "c", "d"]
    rng = np.random.default_rng(1)
    scores = {(arch, LEVEL): dict(enumerate(rng.normal(3.0, 0.2, 20))) for arch in archs}
    record = SequentialSeeds(archs, [LEVEL], SequentialConfig(5, 4, 0.05))._level(LEVEL, scores)
    first, second = record.interims[0], record.interims[1]
    assert first.level == 0.0 and first.futile == [] and second.seeds == dict.fromkeys(archs, 10)
    assert second.level == pytest.approx(0.05 / 3) and second.futile
    futile = [c for c in record.comparisons if c.decision == "futile"]
    assert all(c.stage >= 1 and c.conditional_power < 0.2 for c in futile)
    assert not any(c.decision in ("larger", "smaller") for c in record.comparisons)


def test_conditional_power_projects_the_trend_seen_so_far():
    from statistics import NormalDist

    from benchmark.orchestration.sequential import conditional_power

    x, y = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 1.0, 2.0, 3.0])  # difference 1, pooled sd 1.29
    z = 1 / np.sqrt(np.var(x, ddof=1) * (1 / 4 + 1 / 4))
    info = 4 / 16  # 4 of a cap of 16 seeds each
    expected = NormalDist().cdf((z / np.sqrt(info) - NormalDist().inv_cdf(1 - 0.01 / 2)) / np.sqrt(1 - info))
    assert conditional_power(x, y, 16, 0.01) == pytest.approx(expected) and 0.2 < expected < 0.5
    assert conditional_power(x + 3, y, 16, 0.01) > 0.99  # a clear difference: more seeds will decide it
    assert conditional_power(x, x[::-1], 16, 0.01) < 0.01  # no difference seen: none expected
    assert conditional_power(x, y, 4, 0.01) == 0.0  # at the cap already


def test_alpha_goes_only_to_interims_whose_seeds_can_decide():
    # 4 architectures (6 pairs): 5 vs 5 seeds give p >= 2/252 = 0.0079 > 0.05 / 4 / 6, and > 0.05 / 3 / 6 still
    assert SequentialConfig(5, 4, 0.05).interim_levels(4) == (0.0, 0.05 / 3, 0.05 / 3, 0.05 / 3)
    assert SequentialConfig(7, 4, 0.05).interim_levels(4) == (0.0125,) * 4  # 2/3432 = 0.00058 <= 0.0125 / 6
    assert SequentialConfig(2, 2, 0.05).interim_levels(3) == (0.025, 0.025)  # none can: spent evenly, said so
    assert SequentialConfig(2, 2, 0.05).first_deciding_interim(3) is None
    assert SequentialConfig(5, 4, 0.05).seeds_to_decide_first(4) == 7


def test_adaptive_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="at least two"):
        run_experiment(options(tmp_path, architectures="fast"), "r", backend=FakeBackend(), live=False)
    with pytest.raises(UsageError, match="--max-seeds 3 is below --seeds-per-level 6"):
        options(tmp_path, max_seeds=3)
    with pytest.raises(UsageError, match="at least 2"):
        options(tmp_path, seeds_per_level=1)


def test_a_resumed_adaptive_experiment_keeps_its_test(finished):
    tmp, _, _ = finished
    with pytest.raises(UsageError, match="--alpha 0.05, not 0.1"):
        options(tmp, alpha=0.1)
    kept = options(tmp, alpha=None, max_seeds=None, adaptive=None)
    assert (kept.adaptive, kept.alpha, kept.max_seeds) == (True, 0.05, 18)


def test_the_first_interim_can_decide_only_with_enough_seeds():
    # n vs n seeds: two-sided p-values of at least 2 / C(2n, n); Holm's first step: alpha / K / pairs
    assert SequentialConfig(seeds_per_stage=5, max_stages=4, alpha=0.05).first_deciding_interim(3) == 1  # 0.0079
    assert SequentialConfig(seeds_per_stage=6, max_stages=4, alpha=0.05).first_deciding_interim(3) == 0  # 0.0022
    assert SequentialConfig(seeds_per_stage=5, max_stages=2, alpha=0.05).first_deciding_interim(3) == 0  # vs 0.0083


def test_why_not_the_package_its_boundary_is_one_sided_for_a_two_sided_statistic():
    """Against the exact permutation distribution of 5 vs 5 seeds (252 splits, which the package enumerates):
    asked for alpha it declares a difference on 2 x alpha of them (its boundary is one-sided, its statistic
    two-sided); asked for alpha / 2, on at most alpha (docs/adaptive.md: why the controller tests on its own)."""
    import itertools

    from adastop import MultipleAgentsComparator

    rng = np.random.default_rng(3)
    for _ in range(3):
        a, b = rng.normal(0, 1, 5), rng.normal(0, 1, 5)
        pooled = np.concatenate([a, b])
        diffs = []
        for chosen in itertools.combinations(range(10), 5):
            mask = np.zeros(10, dtype=bool)
            mask[list(chosen)] = True
            diffs.append(pooled[mask].mean() - pooled[~mask].mean())
        diffs = np.abs(diffs)

        def rejected(level: float, a=a, b=b, diffs=diffs) -> float:  # splits whose |difference| crosses it
            tester = MultipleAgentsComparator(n=5, K=1, B=10_000, alpha=level, seed=0)
            tester.partial_compare({"a": a, "b": b}, verbose=False)
            return float((diffs > tester.boundary[-1][1]).mean())

        assert rejected(0.05) > 0.09 and rejected(0.05 / 2) <= 0.05


def test_pair_p_values_are_exact_and_keep_their_level():
    import itertools

    from benchmark.orchestration.sequential import pair_p_value

    rng = np.random.default_rng(0)
    x, y = np.array([1.0, 2.0, 3.5]), np.array([0.5, 0.0, 1.0])
    pooled, observed, extreme = np.concatenate([x, y]), abs(x.mean() - y.mean()), 0
    for chosen in itertools.combinations(range(6), 3):  # by hand: all 20 splits
        mask = np.isin(np.arange(6), chosen)
        extreme += abs(pooled[mask].mean() - pooled[~mask].mean()) >= observed - 1e-12
    assert pair_p_value(x, y, 1000, rng) == extreme / 20 == 0.2  # the observed split, its mirror and ties
    # under the null an exact p-value is at most alpha with probability at most alpha
    nulls = [pair_p_value(rng.normal(0, 1, 5), rng.normal(0, 1, 5), 1000, rng) for _ in range(400)]
    assert np.mean(np.array(nulls) <= 0.05) <= 0.06 and min(nulls) >= 2 / 252
    # 11 vs 11 seeds (705,432 splits): random splits, the observed counted
    assert pair_p_value(rng.normal(0, 1, 11), rng.normal(5, 1, 11), 999, rng) == 1 / 1000


def test_an_interim_decides_clear_pairs_by_holm_and_leaves_the_rest(monkeypatch):
    from benchmark.orchestration import sequential
    from benchmark.orchestration.sequential import interim_test

    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 8)
    values = {"a": a, "b": a[::-1], "c": rng.normal(4, 1, 8)}  # a and b: the same scores, reordered
    pairs = [("a", "b"), ("a", "c"), ("b", "c")]
    threshold, tested = interim_test(values, pairs, 10_000, 0.05, seed=0)
    assert tested[("a", "c")] == ("smaller", 2 / 12_870) and tested[("b", "c")][0] == "smaller"
    assert tested[("a", "b")] == ("continue", 1.0) and threshold == 0.05  # Holm's last step: alpha / 1

    def holm(*p_values: float) -> tuple[float | None, list[str]]:  # p-values of ab, ac, bc
        given = iter(p_values)
        monkeypatch.setattr(sequential, "pair_p_value", lambda *_: next(given))
        threshold, tested = interim_test(values, pairs, 10, 0.05, seed=0)
        return threshold, sorted(f"{x}{y}" for (x, y), (d, _) in tested.items() if d != "continue")

    # Holm: the smallest p-value must reach alpha / 3, the next alpha / 2, the last alpha
    assert holm(0.04, 0.001, 0.02) == (None, ["ab", "ac", "bc"])
    assert holm(0.04, 0.001, 0.03) == (0.025, ["ac"])  # 0.03 > 0.05 / 2 stops it: 0.04 is not tried
    assert holm(0.06, 0.02, 0.001) == (0.05, ["ac", "bc"])
    # a futile pair stays in the family with p = 1: the last tested pair's step is alpha / 2, not alpha
    given = iter((0.04, 0.001, 0.03))
    monkeypatch.setattr(sequential, "pair_p_value", lambda *_: next(given))
    threshold, tested = interim_test(values, pairs, 10, 0.05, seed=0, untested=1)
    assert threshold == 0.05 / 3 and [p for p, (d, _) in tested.items() if d != "continue"] == [("a", "c")]


def test_a_failed_run_blocks_its_level_with_a_reason(tmp_path):
    def failing(spec):
        if spec.job_id.endswith("fast.level_1_basic.s2.train"):
            return FakeOutcome(duration=0.0, exit_code=3)
        return script(spec)

    assert run(tmp_path, backend=FakeBackend(script=failing)) == 1
    level = ledger(tmp_path).adaptive.levels[LEVEL]
    assert level.status.startswith("blocked: ad.fast.level_1_basic.s2.train failed")
    assert level.interims == []
    raw = json.loads((tmp_path / "ad" / "benchmark_results.json").read_text())
    assert raw["adaptive"]["levels"][LEVEL]["status"] == level.status


def test_the_report_explains_the_decisions(finished):
    tmp, _, _ = finished
    report = (tmp / "ad" / "report" / "report.md").read_text()
    section = report.split("## Adaptive decisions", 1)[1].split("\n## ", 1)[0]
    assert "| fast < puffer | worse | 1 |" in section
    assert "| fast = fast_lstm_reset | no difference found (seed cap) |" in section
    assert "| level_1_basic | 18 | 18 | 6 | 42 |" in section
    assert "| statistic | p-value | mean a | mean b |" in section and "Holm's step-down" in section
    assert "42 of 42 grid cells scored" in report  # seeds never asked for are not holes


def test_the_early_accept_probe_runs_the_package_on_the_simulations_scenarios(monkeypatch, capsys):
    import sys

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import adastop_early_accept

    argv = ["--betas", "0,0.5", "--experiments", "2", "--scenarios", "one-clear", "--permutations", "200"]
    monkeypatch.setattr(sys, "argv", ["adastop_early_accept.py", *argv])
    assert adastop_early_accept.main() == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| 0")]
    assert [r[0] for r in rows] == ["| 0.0", "| 0.5"]
    assert all(5 * 4 <= float(r[4].rstrip(" |")) <= 20 * 4 for r in rows)  # runs: 5 to 20 seeds per arm


def test_the_simulation_benchmark_prints_both_figures(monkeypatch, capsys, tmp_path):
    import sys

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import adaptive_simulation

    argv = ["--experiments", "2", "--scenarios", "null-clean,one-clear", "--permutations", "100", "--out"]
    monkeypatch.setattr(sys, "argv", ["adaptive_simulation.py", *argv, str(tmp_path / "sim.md")])
    adaptive_simulation.main()
    table = (tmp_path / "sim.md").read_text()
    assert "futility 0.2" in table and "| null-clean | 0.000 (" in table
    assert "family-wise error: worst scenario" in table and "adaptive / fixed" in table
    one_clear = next(line for line in table.splitlines() if line.startswith("| one-clear"))
    runs = float(one_clear.split(" | ")[3])
    assert 4 * 7 <= runs <= 4 * 28  # between the first interim and the cap
