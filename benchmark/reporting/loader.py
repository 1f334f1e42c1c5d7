"""From `benchmark_results.json` (and the runs' metrics files) to the report's three tidy frames.

A task is a level's evaluation simulation: `level_1_basic` where a level has one, `level_3_medium/basic` and
`level_3_medium/combat` where it has two, so a combat-only skill shows up as its own column. Every planned cell
becomes a row: a run that did not finish keeps NaN scores and a status saying which phase failed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.errors import UsageError, unknown_name
from benchmark.levels.references import describe_references, load_references, reference_score
from benchmark.reporting.frames import METRICS, REFERENCE_COLUMNS
from benchmark.reporting.plots import SCALES

LEDGER = "benchmark_results.json"
NAN = math.nan


def task_name(level: str, sim: str, sims: list[str]) -> str:
    return level if len(sims) == 1 else f"{level}/{sim}"


def load_ledger(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"no results file at {path}: run the benchmark first (or check --output-dir)")
    try:
        data = json.loads(path.read_text())
    except ValueError:
        raise UsageError(f"{path} is not valid JSON: refusing to report on it") from None
    if not isinstance(data, dict) or data.get("format") != "archbench-results-v1":
        raise UsageError(f"{path} is not an archbench results file (format {data.get('format')!r})")
    return data


def _resolve(path: str | None, fallback: Path) -> Path:
    """Ledger paths may be relative to where the controller ran: prefer them, else the usual place."""
    if path and Path(path).exists():
        return Path(path)
    return fallback


def _cell_status(run: dict) -> str:
    train, ev = run["training"], run["evaluation"]
    if ev["status"] == "success" and ev.get("metrics"):
        return "success"
    if train["status"] != "success":
        return f"training {train['status']}" + (f": {train['error']}" if train.get("error") else "")
    return f"evaluation {ev['status']}" + (f": {ev['error']}" if ev.get("error") else "")


def _simulations(run: dict, baselines: dict) -> list[str]:
    for source in (run["evaluation"].get("metrics"), (baselines.get(run["level"]) or {}).get("metrics")):
        if source:
            return list(source["simulations"])
    from benchmark.levels import LEVELS  # a run that never evaluated: ask the level itself

    level = LEVELS.get(run["level"])
    return list(level.evaluations) if level else ["basic"]


def frames(
    ledger: dict[str, Any], root: Path, references: dict | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(scores, curves, throughput) as `benchmark.reporting` documents them; `references` (default: the
    shipped file) gives every score row its level's fixed reference scores."""
    references = load_references() if references is None else references
    baselines = ledger.get("baselines", {})
    scores, curves, throughput = [], [], []
    for run in ledger.get("runs", []):
        if run.get("rung") is not None:  # a screening rung below the full budget: not comparable, not ranked
            continue
        arch, level, seed = run["architecture"], run["level"], int(run["seed"])
        sims = _simulations(run, baselines)
        status = _cell_status(run)
        ev = run["evaluation"].get("metrics") or {}
        base = (baselines.get(level) or {}).get("metrics") or {}
        for sim in sims:
            got = ev.get("simulations", {}).get(sim) if status == "success" else None
            rnd = base.get("simulations", {}).get(sim)
            scores.append(
                {
                    "architecture": arch,
                    "level": task_name(level, sim, sims),
                    "seed": seed,
                    "status": status,
                    "reward_per_agent": got["reward_per_agent"]["mean"] if got else NAN,
                    "hearts_per_agent": got["hearts_per_agent"]["mean"] if got else NAN,
                    "random_reward_per_agent": rnd["reward_per_agent"]["mean"] if rnd else NAN,
                    "random_hearts_per_agent": rnd["hearts_per_agent"]["mean"] if rnd else NAN,
                    **{
                        f"{prefix}_{m}": reference_score(references, level, sim, policy, m)
                        for prefix, policy in (("ref_random", "random"), ("scripted", "scripted"))
                        for m in ("reward_per_agent", "hearts_per_agent")
                    },
                }
            )
        train = run["training"].get("metrics")
        run_dir = root / "runs" / run["run_id"]
        metrics_file = _resolve(train.get("metrics_file") if train else None, run_dir / "metrics.jsonl")
        if metrics_file.is_file():
            for line in metrics_file.read_text().splitlines():
                point = json.loads(line) if line.strip() else {}
                # reward: the rollout estimate where logged (a point every update), else finished episodes'
                reward = point.get("rollout_reward_per_agent", point.get("reward_per_agent"))
                if reward is not None:
                    curves.append(
                        {
                            "architecture": arch,
                            "level": level,
                            "seed": seed,
                            "agent_steps": point["agent_steps"],
                            "reward_per_agent": reward,
                            "hearts_per_agent": point.get("hearts_per_agent", NAN),
                        }
                    )
        if train:
            throughput.append(
                {
                    "architecture": arch,
                    "level": level,
                    "seed": seed,
                    "parameters": train["parameters"],
                    "train_sps": train["sps"],
                    "train_seconds": train["wall_seconds"],
                    "eval_seconds": run["evaluation"].get("duration_seconds") or NAN,
                    "device": train.get("device") or "cpu",
                }
            )
    score_cols = [
        "architecture",
        "level",
        "seed",
        "status",
        "reward_per_agent",
        "hearts_per_agent",
        "random_reward_per_agent",
        "random_hearts_per_agent",
        *REFERENCE_COLUMNS,
    ]
    curve_cols = ["architecture", "level", "seed", "agent_steps", "reward_per_agent", "hearts_per_agent"]
    tp_cols = ["architecture", "level", "seed", "parameters", "train_sps", "train_seconds", "eval_seconds", "device"]
    return (
        pd.DataFrame(scores, columns=score_cols),
        pd.DataFrame(curves, columns=curve_cols),
        pd.DataFrame(throughput, columns=tp_cols),
    )


def eval_curves(ledger: dict[str, Any]) -> pd.DataFrame:
    """Evaluation scores along training (`--interim-evals`): every interim and final evaluation of a full-budget
    run, at the agent steps of the checkpoint it evaluated; metrics averaged over the level's evaluations."""
    rows = []
    for run in ledger.get("runs", []):
        if run.get("rung") is not None:
            continue
        records = [*(run.get("interim") or {}).values(), run["evaluation"]]
        for record in records:
            metrics = record.get("metrics") if record.get("status") == "success" else None
            if not metrics or not metrics.get("simulations"):
                continue
            sims = metrics["simulations"].values()
            rows.append(
                {
                    "architecture": run["architecture"],
                    "level": run["level"],
                    "seed": int(run["seed"]),
                    "agent_steps": int(metrics.get("checkpoint_agent_steps") or 0),
                    **{m: float(np.mean([s[m]["mean"] for s in sims])) for m in METRICS},
                }
            )
    return pd.DataFrame(rows, columns=["architecture", "level", "seed", "agent_steps", *METRICS])


def locate_experiment(name: str, output_dir: Path) -> tuple[str, Path]:
    """(experiment id, output dir) from an id, an experiment folder or its results file; a UsageError that
    lists the experiments there (and the closest one) when nothing matches."""
    path = Path(name)
    if path.name == LEDGER and path.is_file():
        path = path.parent
    if path.name == name and (Path(output_dir) / name / LEDGER).is_file():  # a plain id
        return name, Path(output_dir)
    if (path / LEDGER).is_file():  # a folder given as a path: results/smoke, /abs/path/smoke
        return path.name, path.parent
    known = sorted(p.parent.name for p in Path(output_dir).glob(f"*/{LEDGER}"))
    if not known:
        raise UsageError(f"no experiment {name!r}: {output_dir}/ holds none (run one first, or pass --output-dir)")
    raise UsageError(unknown_name("experiment", name, known).replace("valid:", f"experiments in {output_dir}/:", 1))


def trained_steps(ledger: dict) -> str:
    """What the runs trained (whole steps of every row: a little over what was asked), and what was asked."""
    asked = ledger.get("max_timesteps", 0)
    done = sorted(
        {
            int(m["agent_steps"])
            for run in ledger.get("runs", [])
            if (m := (run.get("training") or {}).get("metrics") or {}).get("agent_steps")
        }
    )
    if not done:
        return f"{asked:,} asked (none trained yet)"
    trained = f"{done[0]:,}" if len(done) == 1 else f"{done[0]:,} to {done[-1]:,}"
    return f"{trained} trained ({asked:,} asked)"


def build_report(
    experiment_id: str, output_dir: Path = Path("results"), reps: int = 50_000, normalise: str = "reference"
) -> dict[str, Path]:
    """Write `<output_dir>/<experiment_id>/report/` from the ledger; works on a partial ledger too."""
    from benchmark.reporting.render import write_report

    root = Path(output_dir) / experiment_id
    ledger = load_ledger(root / LEDGER)
    references = load_references()
    scores, curves, throughput = frames(ledger, root, references)
    if scores.empty:
        raise UsageError(f"{root / LEDGER} has no runs yet: nothing to report")
    env = ledger.get("environment", {})
    meta = {
        "experiment": experiment_id,
        "agent steps per run": trained_steps(ledger),
        "started": ledger.get("start_time"),
        "ended": ledger.get("end_time") or "not finished (partial report)",
        "git commit": env.get("git_commit"),
        "versions": f"python {env.get('python')}, torch {env.get('torch')}, mettagrid {env.get('mettagrid')}",
        "normalisation": SCALES[normalise],
        "reference scores": describe_references(references),
    }
    from benchmark.reporting.behaviour import behaviour_section
    from benchmark.reporting.episodes import episodes_section, scripted_results

    episodes, _ = episodes_section(ledger, root, root / "report")
    behaviour = behaviour_section(ledger, root / "report" / "figures", scripted_results(root / "report"))
    return write_report(
        scores,
        curves,
        throughput,
        root / "report",
        f"archbench report: {experiment_id}",
        meta,
        reps=reps,
        normalise=normalise,
        adaptive=ledger.get("adaptive"),
        screening=ledger.get("screening"),
        eval_curves=eval_curves(ledger),
        extra=tuple(s for s in (episodes, behaviour) if s is not None),
    )
