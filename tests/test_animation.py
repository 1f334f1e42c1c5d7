"""Replays rendered as GIFs, and the report's Episodes section built from an experiment's evaluations."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from benchmark.evaluation.evaluator import evaluate
from benchmark.reporting.animation import render_gif, value_at
from benchmark.reporting.episodes import episodes_section
from benchmark.reporting.markup import Image as ImageBlock


def test_value_at_reads_the_writers_three_shapes():
    assert value_at([3, 4], 10, listed=True) == [3, 4]  # a location that never changed
    assert value_at([[0, [3, 4]], [5, [3, 5]]], 4, listed=True) == [3, 4]
    assert value_at([[0, [3, 4]], [5, [3, 5]]], 5, listed=True) == [3, 5]
    assert value_at([[0, 2], [1, 1]], 7, listed=True) == [[0, 2], [1, 1]]  # an inventory that never changed
    assert value_at([[0, []], [9, [[0, 1]]]], 9, listed=True) == [[0, 1]]
    assert value_at(0.5, 3) == 0.5 and value_at([[0, 0.0], [2, 0.25]], 3) == 0.25


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A real evaluation (random policy, level 1, one episode) with its replay."""
    folder = tmp_path_factory.mktemp("ev")
    out = folder / "eval.json"
    evaluate(level_name="level_1_basic", policy_kind="random", episodes=1, replays=1, threads=1, out=out)
    return folder


def test_a_real_replay_renders_as_a_small_gif_of_the_whole_episode(evaluated, tmp_path):
    replay = evaluated / "eval.replays" / "basic.ep0.json.z"
    made = render_gif(replay, tmp_path / "ep.gif")
    assert made["every"] == 5 and made["frames"] == 201  # steps 0, 5, ..., 995 and the last one
    with Image.open(tmp_path / "ep.gif") as gif:
        assert gif.n_frames == 201 and gif.size == made["size"]
    assert made["bytes"] == (tmp_path / "ep.gif").stat().st_size < 3_000_000


def test_the_episodes_section_shows_best_worst_and_random_per_level(evaluated, tmp_path):
    root = tmp_path / "exp"
    runs = {"a": 9.0, "b": 2.0, "c": 5.0}
    ledger = {"runs": [], "baselines": {"level_1_basic": {"metrics": {"file": str(root / "baselines" / "eval.json")}}}}
    for arch, score in runs.items():
        run_dir = root / "runs" / f"x.{arch}.level_1_basic.s0"
        shutil.copytree(evaluated, run_dir)
        ledger["runs"].append(
            {
                "run_id": run_dir.name,
                "architecture": arch,
                "level": "level_1_basic",
                "evaluation": {"metrics": {"simulations": {"basic": {"reward_per_agent": {"mean": score}}}}},
            }
        )
    shutil.copytree(evaluated, root / "baselines")
    section, gifs = episodes_section(ledger, root, root / "report")
    assert section is not None and section.title == "Episodes"
    assert [g.name for g in gifs] == [
        "level_1_basic.a.gif",
        "level_1_basic.b.gif",
        "level_1_basic.random.gif",
        "level_1_basic.scripted.gif",
    ]
    assert all(g.is_file() for g in gifs)
    assert sum(isinstance(b, ImageBlock) for b in section.blocks) == 4
    text = json.dumps([getattr(b, "text", "") for b in section.blocks])
    assert "a (best), 9.00 reward per agent" in text and "b (worst), 2.00" in text
    assert "../runs/x.a.level_1_basic.s0/eval.replays/basic.ep0.json.z" in text
    # the scripted expert's episode 0, played once for the report, with its replay beside the report
    expert = json.loads((root / "report" / "references" / "level_1_basic.scripted.json").read_text())
    assert expert["policy"] == "scripted" and expert["simulations"]["basic"]["seeds"] == [1 << 30]  # episode 0
    assert expert["simulations"]["basic"]["reward_per_agent"]["mean"] > 15  # the expert: about 20 on level 1
    assert "references/level_1_basic.scripted.replays/basic.ep0.json.z" in text
    stamp = gifs[-1].stat().st_mtime
    again, _ = episodes_section(ledger, root, root / "report")  # kept: neither played nor rendered again
    assert gifs[-1].stat().st_mtime == stamp and again is not None
    bare, plain = episodes_section(ledger, root, root / "bare", scripted=False)
    assert [g.name for g in plain][-1] == "level_1_basic.random.gif"


def test_behaviour_section_averages_seeds_and_shows_the_random_policy(tmp_path):
    from benchmark.reporting.behaviour import behaviour_frame, behaviour_section

    def metrics(cells: float, ore: float) -> dict:
        sim = {"gained_per_agent": {"ore": ore, "heart": 1.0}, "behaviour_per_agent": {"cells_visited": cells}}
        return {"simulations": {"basic": sim}}

    ledger = {
        "runs": [
            {"architecture": "a", "level": "l1", "seed": 0, "evaluation": {"metrics": metrics(10, 4)}},
            {"architecture": "a", "level": "l1", "seed": 1, "evaluation": {"metrics": metrics(20, 6)}},
            {"architecture": "b", "level": "l1", "seed": 0, "evaluation": {"metrics": None}},  # failed: left out
        ],
        "baselines": {"l1": {"metrics": metrics(30, 1)}},
    }
    frame = behaviour_frame(ledger).set_index("policy")
    assert frame.loc["a", "cells visited"] == 15 and frame.loc["a", "ore"] == 5
    assert frame.loc["random", "cells visited"] == 30 and "b" not in frame.index
    section = behaviour_section(ledger, tmp_path)
    assert section is not None and (tmp_path / "behaviour.png").is_file()
    # the scripted expert's episode played for the report: its own row, on the ledger's levels only
    with_expert = behaviour_frame(ledger, {"l1": metrics(40, 9), "l9": metrics(1, 1)}).set_index("policy")
    assert with_expert.loc["scripted", "ore"] == 9 and list(with_expert["level"].unique()) == ["l1"]


def test_scripted_results_reads_what_the_episodes_section_played(evaluated, tmp_path):
    from benchmark.reporting.episodes import scripted_key, scripted_results

    refs = tmp_path / "references"
    refs.mkdir()
    for level in ("level_1_basic", "level_2_easy", "level_3_medium"):
        shutil.copy(evaluated / "eval.json", refs / f"{level}.scripted.json")
        (refs / f"{level}.scripted.key").write_text(scripted_key(level))
    (refs / "level_2_easy.scripted.json").write_text("{not json")  # a torn file: skipped
    (refs / "level_3_medium.scripted.key").write_text("played-before-the-level-changed")  # stale: skipped
    assert list(scripted_results(tmp_path)) == ["level_1_basic"]


def test_a_kept_scripted_episode_is_played_again_when_what_it_depends_on_changed(tmp_path, monkeypatch):
    from benchmark.reporting import episodes

    played = []

    def fake_evaluate(level_name, out, **_):
        played.append(level_name)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"level": level_name}))

    monkeypatch.setattr(episodes, "evaluate", fake_evaluate)
    first = episodes.scripted_episode("level_1_basic", tmp_path)
    assert episodes.scripted_episode("level_1_basic", tmp_path) == first and played == ["level_1_basic"]  # kept
    monkeypatch.setattr(episodes, "mettagrid_version", lambda: "another-version")
    episodes.scripted_episode("level_1_basic", tmp_path)
    assert played == ["level_1_basic"] * 2  # MettaGrid changed: played again
    assert list(episodes.scripted_results(tmp_path)) == ["level_1_basic"]


def test_two_reports_rendering_the_same_gif_at_once_both_succeed(evaluated, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    replay, out = evaluated / "eval.replays" / "basic.ep0.json.z", tmp_path / "same.gif"
    with ThreadPoolExecutor(2) as pool:  # a fixed temporary name made the second rename fail
        made = list(pool.map(lambda _: render_gif(replay, out, every=50), range(2)))
    assert made[0]["bytes"] == made[1]["bytes"] == out.stat().st_size and not list(tmp_path.glob(".*"))


def test_a_replay_renders_as_an_mp4_and_a_wrong_ending_is_one_line(evaluated, tmp_path, capsys):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")  # the `video` extra (installed with `dev`)
    from benchmark.cli import main as archbench_main

    replay = evaluated / "eval.replays" / "basic.ep0.json.z"
    made = render_gif(replay, tmp_path / "ep.mp4", every=25)
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "ep.mp4"))
    assert frames == made["frames"] == 41 and 1_000 < made["bytes"] < 1_000_000  # steps 0, 25, ..., 975, 999
    assert not list(tmp_path.glob(".*"))  # the temporary file is gone
    with pytest.raises(SystemExit) as exit_info:
        archbench_main(["replay", str(replay), "--out", str(tmp_path / "ep.avi")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and "valid endings are .gif and .mp4" in err
