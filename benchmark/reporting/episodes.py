"""The report's "Episodes" section: per level, an evaluation episode of the best and the worst architecture, of
the random policy and of the scripted expert, as embedded animations rendered from the replays `archbench evaluate`
wrote, each with its replay file named for MettaScope. The controller never runs the scripted expert (its scores are
the shipped reference file), so its one episode is played here, once per report folder: a few seconds a level."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchmark.atomic import atomic_write_text
from benchmark.evaluation import scripted
from benchmark.evaluation.evaluator import evaluate
from benchmark.evaluation.replays import mettagrid_version
from benchmark.levels import LEVELS
from benchmark.reporting.animation import render_gif
from benchmark.reporting.markup import Image, Paragraph, Section

METTASCOPE = "https://metta-ai.github.io/metta/mettascope/mettascope.html?replay="


def _replay_of(eval_file: Path) -> tuple[str, Path] | None:
    """(simulation, replay path) of the first replay an evaluation wrote, or None."""
    try:
        files = json.loads(eval_file.read_text()).get("replays", {}).get("files", {})
    except (OSError, ValueError):
        return None
    for sim, paths in files.items():
        for path in paths:
            replay = eval_file.parent / path  # written relative to the evaluation's folder
            if replay.is_file():
                return sim, replay
    return None


def _score(run: dict) -> float | None:
    sims = ((run.get("evaluation") or {}).get("metrics") or {}).get("simulations") or {}
    values = [s["reward_per_agent"]["mean"] for s in sims.values() if "reward_per_agent" in s]
    return sum(values) / len(values) if values else None


def scripted_key(level: str) -> str:
    """What the kept scripted episode depends on: the level's config, the expert's code, MettaGrid's version. A
    report folder built before any of them changed plays the episode again instead of showing a stale one."""
    parts = [LEVELS[level].model_dump_json(), Path(scripted.__file__).read_text(), mettagrid_version()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _key_file(result: Path) -> Path:
    return result.with_name(result.name.removesuffix(".json") + ".key")


def scripted_episode(level: str, out_dir: Path) -> Path | None:
    """The scripted expert's evaluation episode 0 on `level`, with its replay (played once, then kept in
    `out_dir/references/` while `scripted_key` is unchanged); None for a level the registry does not know."""
    if level not in LEVELS:
        return None
    out, key = out_dir / "references" / f"{level}.scripted.json", scripted_key(level)
    if not out.is_file() or _read(_key_file(out)) != key:
        evaluate(level_name=level, policy_kind="scripted", episodes=1, replays=1, threads=1, out=out)
        atomic_write_text(_key_file(out), key)
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def scripted_results(out_dir: Path) -> dict[str, dict]:
    """level -> the scripted expert's evaluation played for this report (what `scripted_episode` left; a stale
    one, played before its level, the expert or MettaGrid changed, is left out)."""
    found = {}
    for path in sorted((out_dir / "references").glob("*.scripted.json")):
        level = path.name.removesuffix(".scripted.json")
        if level not in LEVELS or _read(_key_file(path)) != scripted_key(level):
            continue
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found[result.get("level", level)] = result
    return found


def _picks(
    ledger: dict[str, Any], root: Path, out_dir: Path, scripted: bool
) -> dict[str, list[tuple[str, float | None, Path]]]:
    """Per level: (who, score, eval file) for the best and the worst architecture (their best-scoring seed
    with a replay, by the mean reward per agent over the level's evaluations), the random policy and, with
    `scripted`, the scripted expert."""
    by_level: dict[str, dict[str, list[tuple[float, Path]]]] = {}
    for run in ledger.get("runs", []):
        score = _score(run)
        if run.get("rung") is not None or score is None:
            continue
        eval_file = root / "runs" / run["run_id"] / "eval.json"
        if _replay_of(eval_file) is not None:
            by_level.setdefault(run["level"], {}).setdefault(run["architecture"], []).append((score, eval_file))
    picks: dict[str, list[tuple[str, float | None, Path]]] = {}
    for level, archs in sorted(by_level.items()):
        means = {a: sum(s for s, _ in runs) / len(runs) for a, runs in archs.items()}
        ranked = sorted(means, key=means.get, reverse=True)
        chosen = [ranked[0]] + ([ranked[-1]] if len(ranked) > 1 else [])
        picks[level] = [(f"{a} ({'best' if a == ranked[0] else 'worst'})", means[a], max(archs[a])[1]) for a in chosen]
        base = ((ledger.get("baselines") or {}).get(level) or {}).get("metrics") or {}
        base_file = Path(base["file"]) if base.get("file") else root / "baselines" / f"{level}.json"
        if _replay_of(base_file) is not None:
            picks[level].append(("random policy", None, base_file))
        if scripted and (expert := scripted_episode(level, out_dir)) is not None and _replay_of(expert) is not None:
            picks[level].append(("scripted expert", None, expert))
    return picks


def episodes_section(
    ledger: dict[str, Any], root: Path, out_dir: Path, *, scripted: bool = True
) -> tuple[Section | None, list[Path]]:
    """The section and the GIFs it embeds (rendered into `out_dir/animations/`, reused while newer than their
    replay); None when no evaluation left a replay."""
    picks = _picks(ledger, root, out_dir, scripted)
    if not picks:
        return None, []
    blocks: list[Paragraph | Image] = [
        Paragraph(
            "One evaluation episode per policy (evaluation episode 0 of the level's first simulation; for an "
            "architecture, its best seed; the scripted expert's episode is played for this report, since the "
            "controller only reads its reference scores): the map, buildings as squares (mine brown, generator "
            "yellow, altar red, armory blue, lasery purple), agents as discs coloured by what they carry (heart "
            "red, battery yellow, ore orange, nothing white), about 200 frames per episode. The replay files open "
            f"in MettaScope (serve the file over http and open {METTASCOPE}<its URL>); `archbench replay FILE` "
            "renders one again."
        )
    ]
    gifs: list[Path] = []
    for level, chosen in picks.items():
        for who, score, eval_file in chosen:
            found = _replay_of(eval_file)
            assert found is not None
            sim, replay = found
            gif = out_dir / "animations" / f"{level}.{who.split(' ')[0]}.gif"
            if not gif.is_file() or gif.stat().st_mtime < replay.stat().st_mtime:
                render_gif(replay, gif)
            gifs.append(gif)
            scored = f", {score:.2f} reward per agent over its seeds" if score is not None else ""
            where = os.path.relpath(replay, out_dir)  # the report sits inside the experiment folder
            blocks.append(Paragraph(f"{level}, {who}{scored}: simulation {sim}, replay [{where}]({quote(where)})"))
            blocks.append(Image(gif, f"{level}: {who}"))
    return Section("Episodes", tuple(blocks)), gifs
