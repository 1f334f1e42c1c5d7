"""The stats core against rliable (the reference implementation) and against hand-made frames.

CI tolerances are 5% of rliable's interval width: about five Monte Carlo standard errors of a 2.5% quantile
at rliable's 5,000 reps, yet smaller than the shift a non-stratified bootstrap, a row-wise bootstrap or a 90%
percentile produce on these matrices (checked by the negative-control test).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from benchmark.reporting import stats
from benchmark.reporting.frames import THROUGHPUT_COLUMNS, check_scores
from benchmark.reporting.tables import build_tables

rly = pytest.importorskip("rliable.library")
rmetrics = pytest.importorskip("rliable.metrics")

RLIABLE = {
    "iqm": rmetrics.aggregate_iqm,
    "median": rmetrics.aggregate_median,
    "mean": rmetrics.aggregate_mean,
    "optimality_gap": rmetrics.aggregate_optimality_gap,
}
SHAPES = [(3, 5), (10, 5)]
RLIABLE_REPS = 5_000
OUR_REPS = 20_000
REL_TOL = 0.05


def _matrix(shape: tuple[int, int], seed: int, shift: float = 0.0) -> np.ndarray:
    """Scores with strong task effects and seed effects, so a wrong stratification changes the interval."""
    rng = np.random.default_rng(seed)
    runs, tasks = shape
    task_effect = np.linspace(0.0, 1.2, tasks)[None, :]
    run_effect = rng.normal(0.0, 0.15, size=(runs, 1))
    return task_effect + run_effect + rng.normal(shift, 0.2, size=shape)


def _rliable_ci(matrix: np.ndarray, name: str) -> tuple[float, np.ndarray]:
    np.random.seed(123)  # rliable draws from numpy's global stream
    point, ci = rly.get_interval_estimates({"a": matrix}, lambda x: np.array([RLIABLE[name](x)]), reps=RLIABLE_REPS)
    return float(point["a"][0]), ci["a"].ravel()


@pytest.mark.parametrize("shape", SHAPES)
def test_point_estimates_match_rliable(shape: tuple[int, int]) -> None:
    for algorithm in range(3):
        matrix = _matrix(shape, seed=algorithm, shift=0.1 * algorithm)
        for name, fn in stats.AGGREGATES.items():
            assert float(fn(matrix)) == pytest.approx(float(RLIABLE[name](matrix)), abs=1e-12), name


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 15, 50])
def test_iqm_matches_scipy_trim_mean(n: int) -> None:
    x = np.random.default_rng(n).normal(size=n)
    assert stats.iqm(x) == pytest.approx(scipy.stats.trim_mean(x, 0.25), abs=1e-12)
    matrix = np.random.default_rng(n).normal(size=(n, 3))
    assert stats.iqm(matrix) == pytest.approx(scipy.stats.trim_mean(matrix, 0.25, axis=None), abs=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(RLIABLE))
def test_bootstrap_ci_matches_rliable(shape: tuple[int, int], name: str) -> None:
    matrix = _matrix(shape, seed=7)
    point, (lower, upper) = _rliable_ci(matrix, name)
    ours = stats.stratified_bootstrap_ci(matrix, stats.AGGREGATES[name], reps=OUR_REPS, seed=1)
    tol = REL_TOL * (upper - lower)
    assert ours.point == pytest.approx(point, abs=1e-12)
    assert ours.lower == pytest.approx(lower, abs=tol)
    assert ours.upper == pytest.approx(upper, abs=tol)


def test_tolerance_catches_wrong_bootstraps() -> None:
    """Negative control: plausible mistakes land outside the tolerance used above."""
    matrix = _matrix((10, 5), seed=7)
    _, (lower, upper) = _rliable_ci(matrix, "mean")
    tol = REL_TOL * (upper - lower)
    rng = np.random.default_rng(0)
    reps, (runs, tasks) = OUR_REPS, matrix.shape
    pooled = matrix.ravel()[rng.integers(0, matrix.size, size=(reps, matrix.size))].reshape(reps, runs, tasks)
    rowwise = matrix[rng.integers(0, runs, size=(reps, runs))]
    wrong = {
        "non-stratified": np.percentile(stats.aggregate_mean(pooled), [2.5, 97.5]),
        "row-wise": np.percentile(stats.aggregate_mean(rowwise), [2.5, 97.5]),
        "90% percentile": stats.stratified_bootstrap_ci(matrix, stats.aggregate_mean, OUR_REPS, 0.90, 1)[1:],
    }
    for label, (lo, hi) in wrong.items():
        assert max(abs(lo - lower), abs(hi - upper)) > tol, label


def test_probability_of_improvement_matches_rliable() -> None:
    rng = np.random.default_rng(2)
    x = np.round(rng.random((3, 5)) * 4) + 0.5  # coarse values give ties
    y = np.round(rng.random((4, 5)) * 4)
    pairs = [(x, y), (y, x), (x, x), (x, x + 100.0)]
    for a, b in pairs:
        expected = rmetrics.probability_of_improvement(a, b)
        assert stats.probability_of_improvement(a, b, reps=10).point == pytest.approx(expected, abs=1e-12)
    np.random.seed(0)
    _, ci = rly.get_interval_estimates({"xy": [x, y]}, rmetrics.probability_of_improvement, reps=500)
    lower, upper = ci["xy"].ravel()
    ours = stats.probability_of_improvement(x, y, reps=20_000, seed=3)
    tol = 0.1 * (upper - lower)  # rliable is slow here: 500 reps of a discrete statistic
    assert ours.lower == pytest.approx(lower, abs=tol)
    assert ours.upper == pytest.approx(upper, abs=tol)


def test_performance_profile_matches_rliable() -> None:
    matrix = _matrix((10, 5), seed=4) / 1.5
    taus = np.linspace(-0.2, 1.4, 17)
    np.random.seed(0)
    points, cis = rly.create_performance_profile({"a": matrix}, taus, reps=2_000)
    ours = stats.performance_profile(matrix, taus, reps=2_000, seed=5)
    np.testing.assert_allclose(ours.point, points["a"], atol=1e-12)
    # Bands of a fraction of 50 runs move in steps of 0.02; allow two steps.
    np.testing.assert_allclose(ours.lower, cis["a"][0], atol=0.041)
    np.testing.assert_allclose(ours.upper, cis["a"][1], atol=0.041)


# --- holes ---
def test_holes_keep_each_task_run_count_and_values() -> None:
    matrix = np.array([[0.1, 1.0, 5.0], [0.2, np.nan, 6.0], [0.3, 3.0, np.nan], [np.nan, 4.0, np.nan]])
    counts = stats.stratified_bootstrap_ci(matrix, lambda s: np.isfinite(s).sum(axis=-2), reps=500, seed=0)
    np.testing.assert_array_equal(counts.lower, [3, 3, 2])
    np.testing.assert_array_equal(counts.upper, [3, 3, 2])
    low = stats.stratified_bootstrap_ci(matrix, lambda s: np.nanmin(s, axis=-2), reps=500, seed=0)
    high = stats.stratified_bootstrap_ci(matrix, lambda s: np.nanmax(s, axis=-2), reps=500, seed=0)
    assert np.all(low.lower >= [0.1, 1.0, 5.0]) and np.all(high.upper <= [0.3, 4.0, 6.0])


def test_hole_point_estimates_use_present_runs() -> None:
    matrix = np.array([[0.0, 1.0], [2.0, np.nan], [4.0, 3.0]])
    task_means = np.array([2.0, 2.0])
    assert float(stats.aggregate_mean(matrix)) == pytest.approx(task_means.mean())
    assert float(stats.aggregate_median(matrix)) == pytest.approx(np.median(task_means))
    present = matrix[np.isfinite(matrix)]
    assert float(stats.aggregate_iqm(matrix)) == pytest.approx(scipy.stats.trim_mean(present, 0.25))
    assert float(stats.aggregate_optimality_gap(matrix)) == pytest.approx(1 - np.minimum(present, 1).mean())
    estimate = stats.stratified_bootstrap_ci(matrix, stats.aggregate_iqm, reps=2_000)
    assert estimate.lower <= estimate.point <= estimate.upper


def test_empty_or_infinite_columns_raise_clearly() -> None:
    with pytest.raises(ValueError, match=r"task columns \[1\]"):
        stats.stratified_bootstrap_ci(np.array([[1.0, np.nan], [2.0, np.nan]]), stats.aggregate_mean)
    with pytest.raises(ValueError, match="infinite"):
        stats.stratified_bootstrap_ci(np.array([[1.0, np.inf]]), stats.aggregate_mean)
    with pytest.raises(ValueError, match="same tasks"):
        stats.probability_of_improvement(np.ones((2, 3)), np.ones((2, 4)))


def test_single_run_gives_degenerate_interval() -> None:
    matrix = np.array([[0.2, 0.4, 0.9]])
    estimate = stats.stratified_bootstrap_ci(matrix, stats.aggregate_iqm, reps=100)
    assert estimate.lower == estimate.point == estimate.upper


def test_complete_tasks_and_score_matrices() -> None:
    frame = pd.DataFrame(
        {
            "architecture": ["a", "a", "a", "b", "b"],
            "level": ["l1", "l2", "l1", "l1", "l2"],
            "seed": [0, 0, 1, 0, 0],
            "normalized": [0.5, np.nan, 0.7, 0.1, 0.2],
        }
    )
    matrices = stats.score_matrices(frame)
    assert matrices["a"].shape == (2, 2) and matrices["b"].shape == (1, 2)
    np.testing.assert_array_equal(stats.complete_tasks(matrices), [True, False])


def test_bootstrap_is_reproducible() -> None:
    matrix = _matrix((10, 5), seed=0)
    first = stats.stratified_bootstrap_ci(matrix, stats.aggregate_iqm, reps=50_000, seed=9)
    assert first == stats.stratified_bootstrap_ci(matrix, stats.aggregate_iqm, reps=50_000, seed=9)


# --- normalisation ---
def _scores() -> pd.DataFrame:
    rows = []
    for arch, level, seed, reward in [
        ("a", "easy", 0, 2.0),
        ("a", "easy", 1, 4.0),
        ("b", "easy", 0, 1.0),
        ("b", "easy", 1, 1.0),
        ("a", "flat", 0, 0.5),
        ("b", "flat", 0, 0.5),
        ("a", "broken", 0, np.nan),
        ("b", "broken", 0, 3.0),
    ]:
        random = {"easy": 1.0, "flat": 0.5, "broken": 0.0}[level]
        rows.append(
            {
                "architecture": arch,
                "level": level,
                "seed": seed,
                "reward_per_agent": reward,
                "hearts_per_agent": 0.0 if np.isfinite(reward) else np.nan,
                "random_reward_per_agent": random,
                "random_hearts_per_agent": 0.0,
                "status": "success" if np.isfinite(reward) else "failed",
            }
        )
    return check_scores(pd.DataFrame(rows))


def test_normalization_maps_random_to_zero_and_best_mean_to_one() -> None:
    out = stats.normalize_scores(_scores(), "reward_per_agent", normalise="best")
    easy = out[out["level"] == "easy"].set_index(["architecture", "seed"])["normalized"]
    # random 1.0, best = mean of a = 3.0
    assert easy[("a", 0)] == pytest.approx(0.5) and easy[("a", 1)] == pytest.approx(1.5)
    assert easy[("b", 0)] == pytest.approx(0.0)
    assert out.loc[out["level"] == "easy", "normalized"].groupby(out["architecture"]).mean().max() == 1.0


def test_normalization_guards_degenerate_and_failed_cells() -> None:
    reference = stats.normalization_reference(_scores(), normalise="best").set_index("level")
    assert not reference.loc["flat", "valid"] and "beat the random" in reference.loc["flat", "note"]
    assert reference.loc["broken", "valid"] and reference.loc["broken", "best_architecture"] == "b"
    out = stats.normalize_scores(_scores(), normalise="best")
    assert out.loc[out["level"] == "flat", "normalized"].isna().all()
    broken = out[out["level"] == "broken"].set_index("architecture")["normalized"]
    assert np.isnan(broken["a"]) and broken["b"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="metric"):
        stats.normalize_scores(_scores(), "score")


def _with_references(scores: pd.DataFrame) -> pd.DataFrame:
    """The fixed scale: random 1.0 and scripted 5.0 on `easy`, none on `flat`, a script no better than random
    on `broken`."""
    out = scores.copy()
    out["ref_random_reward_per_agent"] = out["level"].map({"easy": 1.0, "flat": np.nan, "broken": 2.0})
    out["scripted_reward_per_agent"] = out["level"].map({"easy": 5.0, "flat": np.nan, "broken": 2.0})
    return out


def test_reference_normalisation_is_fixed_by_the_random_and_scripted_scores() -> None:
    out = stats.normalize_scores(_with_references(_scores()))
    easy = out[out["level"] == "easy"].set_index(["architecture", "seed"])["normalized"]
    # (score - 1) / (5 - 1), whatever else the grid holds: rewards 2, 4 and 1 give 0.25, 0.75 and 0
    assert easy[("a", 0)] == pytest.approx(0.25) and easy[("a", 1)] == pytest.approx(0.75)
    assert easy[("b", 0)] == pytest.approx(0.0)
    reference = stats.normalization_reference(_with_references(_scores())).set_index("level")
    assert "no reference score" in reference.loc["flat", "note"]
    assert "scripted expert does not beat" in reference.loc["broken", "note"]
    assert out.loc[out["level"].isin(["flat", "broken"]), "normalized"].isna().all()
    with pytest.raises(ValueError, match="normalise"):
        stats.normalize_scores(_scores(), normalise="grid")


def test_a_single_architecture_with_a_single_seed_is_ranked_on_the_reference_scale() -> None:
    scores = _with_references(_scores())
    one = scores[(scores["architecture"] == "a") & (scores["seed"] == 0) & (scores["level"] == "easy")]
    tables = build_tables(one, pd.DataFrame(columns=list(THROUGHPUT_COLUMNS)), reps=200, poi_reps=50)
    ranking = tables["ranking"].set_index("architecture")
    assert ranking.loc["a", "iqm"] == pytest.approx(0.25)
    assert tables["excluded_levels"].empty
    ladder = tables["ladder"].set_index("level")
    assert ladder.loc["easy", "scripted_over_random"] == pytest.approx(5.0)
    assert ladder.loc["easy", "best_architecture"] == "a" and ladder.loc["easy", "best_raw"] == pytest.approx(2.0)
