"""A resumed experiment takes its grid from the ledger; --extend only adds; the budget never changes."""

import pytest

from benchmark.errors import UsageError
from benchmark.orchestration.resume import reconcile

STORED = {
    "experiment_id": "x",
    "timesteps": 20000,
    "episodes": 1,
    "architectures": ["fast"],
    "levels": ["level_1_basic"],
    "seeds_per_level": 1,
    "architectures_module": None,
    "local": True,
    "storage": None,
}


def test_a_short_command_takes_the_whole_grid_and_placement_from_the_ledger():
    out = reconcile({"experiment_id": "x"}, STORED, extend=False)
    assert {k: out[k] for k in STORED if k != "storage"} == {k: v for k, v in STORED.items() if k != "storage"}
    assert "storage" not in out  # None in the ledger: left to the option's default


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"timesteps": 50000}, "was started with --timesteps 20000, not 50000"),
        ({"episodes": 8}, "was started with --episodes 1, not 8"),
        ({"architectures": "fast,vit"}, "has --architectures fast (from its ledger), not fast,vit"),
        ({"levels": ["level_2_easy"]}, "has --levels level_1_basic (from its ledger), not level_2_easy"),
        ({"seeds_per_level": 3}, "has --seeds-per-level 1 (from its ledger), not 3: resume without"),
    ],
)
def test_a_contradicting_flag_is_refused(given, message):
    with pytest.raises(UsageError, match="^experiment x ") as info:
        reconcile({"experiment_id": "x", **given}, STORED, extend=False)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_extend_adds_runs_and_never_removes_any():
    out = reconcile(
        {
            "experiment_id": "x",
            "architectures": "vit",
            "levels": ["level_2_easy", "level_1_basic"],
            "seeds_per_level": 2,
        },
        STORED,
        extend=True,
    )
    assert out["architectures"] == ["fast", "vit"] and out["levels"] == ["level_1_basic", "level_2_easy"]
    assert out["seeds_per_level"] == 2
    assert (
        reconcile({"experiment_id": "x", "seeds_per_level": 1}, {**STORED, "seeds_per_level": 3}, True)[
            "seeds_per_level"
        ]
        == 3
    )
    with pytest.raises(UsageError, match="--timesteps"):  # --extend grows the grid, never the budget
        reconcile({"experiment_id": "x", "timesteps": 1}, STORED, extend=True)


def test_a_placement_flag_may_move_the_experiment():
    out = reconcile({"experiment_id": "x", "local": False, "storage": "s3://b/p"}, STORED, extend=False)
    assert out["local"] is False and out["storage"] == "s3://b/p"


def test_a_recipe_may_give_levels_their_own_budgets(tmp_path, capsys):
    """Per-level budgets (a [level_timesteps] table): each level's runs train for their own budget."""
    from benchmark.adaptive import main

    recipe = tmp_path / "ladder.toml"
    recipe.write_text(
        'experiment_id = "lad"\ntimesteps = 1000\nlevels = "level_1_basic,level_5_expert"\narchitectures = "fast"\n'
        "seeds_per_level = 1\nlocal = true\n[level_timesteps]\nlevel_5_expert = 5000\n"
    )
    with pytest.raises(SystemExit) as info:
        main(["--recipe", str(recipe), "--output-dir", str(tmp_path), "--dry-run", "--no-probe"])
    out = capsys.readouterr().out
    assert info.value.code == 0, out
    assert "agent steps per run: level_1_basic 1,000, level_5_expert 5,000, 6,000 in all" in out
    recipe.write_text(recipe.read_text().replace("level_5_expert = 5000", "level_9 = 5000"))
    with pytest.raises(SystemExit) as info:
        main(["--recipe", str(recipe), "--output-dir", str(tmp_path), "--dry-run", "--no-probe"])
    assert info.value.code == 2 and "unknown level level_9" in capsys.readouterr().err


def test_an_adaptive_ledger_from_before_the_futility_stop_keeps_its_rule():
    older = {**STORED, "adaptive": True, "alpha": 0.05}  # no "futility" key: it ran without the stop
    assert reconcile({"experiment_id": "x"}, older, extend=False)["futility"] == 0.0
    with pytest.raises(UsageError, match="was started with --futility 0.0, not 0.2"):
        reconcile({"experiment_id": "x", "futility": 0.2}, older, extend=False)
    assert "futility" not in reconcile({"experiment_id": "x"}, STORED, extend=False)  # not adaptive: no rule
