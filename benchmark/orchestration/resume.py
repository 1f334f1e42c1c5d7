"""A resumed experiment keeps its grid: the ledger, not the command line, says what the experiment is.

Without this, `--experiment-id tiny --timesteps 20000 --local` after a 1 x 1 x 1 experiment planned the whole
default grid (13 x 5 x 3, 390 cloud jobs) "resuming". Now a flag (or recipe value) left out takes the ledger's
value; one that contradicts it is refused in one line; growing the grid is explicit (`--extend`) and only
ever adds runs (architectures, levels, more seeds). The budget (`timesteps`, `episodes`) never changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmark.errors import UsageError

LEDGER_NAME = "benchmark_results.json"  # as orchestration.plan (not imported: keep options light)
# the budget, how it is spent (--adaptive, --screen: changing them mid-way would change their decisions), and
# the interim evaluations (every run of the experiment has them, or none)
BUDGET_KEYS = (
    "timesteps",
    "level_timesteps",
    "episodes",
    "adaptive",
    "max_seeds",
    "alpha",
    "futility",
    "screen",
    "screen_rungs",
    "interim_evals",
)
# what an experiment ran with before its key existed: an adaptive ledger from before 2026-11-29 had no futility
# stop, and resuming it must not start one (its decisions would change)
LEGACY = {"futility": 0.0}
REEVALUATE_KEYS = ("episodes",)  # --reevaluate evaluates every checkpoint again: it may change these
LIST_KEYS = ("architectures", "levels")
GRID_KEYS = (*LIST_KEYS, "seeds_per_level", "architectures_module")
# where the jobs run: taken from the ledger when not given (a local experiment resumed with a short command
# stays local; a cloud one keeps its bucket), but a flag may change them (moving an experiment is legitimate)
PLACEMENT_KEYS = ("local", "storage", "accelerator", "cloud", "use_spot", "gpus", "cluster", "nodes", "gpus_per_node")


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def shown(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def ledger_config(output_dir: Path, experiment_id: str) -> dict[str, Any] | None:
    """The options an existing experiment was run with, or None for a new experiment."""
    path = Path(output_dir) / experiment_id / LEDGER_NAME
    try:
        config = json.loads(path.read_text()).get("config")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError):
        return None  # the controller refuses a corrupt ledger itself, with its own message
    return config if isinstance(config, dict) and config else None


PERCENTAGES = "give whole percentages between 1 and 99, e.g. 25,50,75"


def percentages(value: str | list) -> list[int]:
    """`"25,50,75"` (or a list) -> [25, 50, 75], sorted and distinct; ValueError(PERCENTAGES) otherwise."""
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    try:
        out = sorted({int(v) for v in items})
    except (TypeError, ValueError):
        raise ValueError(PERCENTAGES) from None
    if out and (out[0] < 1 or out[-1] > 99):
        raise ValueError(PERCENTAGES)
    return out


def reconcile(values: dict[str, Any], stored: dict[str, Any], extend: bool) -> dict[str, Any]:
    """`values` (recipe + flags given) merged with a resumed experiment's `stored` options; UsageError on conflict."""
    out = dict(values)
    experiment = values.get("experiment_id")
    if isinstance(values.get("interim_evals"), str):  # as the ledger stores it: sorted whole percentages
        try:
            values = {**values, "interim_evals": percentages(values["interim_evals"])}
        except ValueError:
            pass  # the options model says what is wrong with it
    for key in PLACEMENT_KEYS:
        if key not in values and stored.get(key) is not None:
            out[key] = stored[key]
    stored = {**LEGACY, **stored} if stored.get("adaptive") else stored
    for key in BUDGET_KEYS:
        before = stored.get(key)
        if before is None or (key in REEVALUATE_KEYS and values.get("reevaluate") and key in values):
            continue
        if key in values and values[key] != before:
            raise UsageError(
                f"experiment {experiment} was started with {flag(key)} {shown(before)}, not {shown(values[key])}: "
                f"resume without {flag(key)} (or with {flag(key)} {shown(before)}), or start another --experiment-id"
                + (" (or evaluate every checkpoint again with --reevaluate)" if key in REEVALUATE_KEYS else "")
            )
        out[key] = before
    for key in GRID_KEYS:
        if key not in stored:
            continue
        before, given = stored[key], values.get(key)
        if key in LIST_KEYS and isinstance(given, str):
            given = [v.strip() for v in given.split(",") if v.strip()]
        if key not in values or given == before:
            out[key] = before
            continue
        if not extend:
            raise UsageError(
                f"experiment {experiment} has {flag(key)} {shown(before)} (from its ledger), not {shown(given)}: "
                f"resume without {flag(key)}, add --extend to grow the grid, or start another --experiment-id"
            )
        if key in LIST_KEYS:
            out[key] = list(before) + [v for v in given if v not in before]
        elif key == "seeds_per_level":
            out[key] = max(int(before), int(given))
        elif before is not None:  # architectures_module: one per experiment
            raise UsageError(
                f"experiment {experiment} registers its architectures with --architectures-module {before}; "
                f"it cannot change to {given}"
            )
    return out
