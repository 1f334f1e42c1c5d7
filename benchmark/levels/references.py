"""The shipped reference scores (random policy = 0, scripted expert = 1) and how to read them.

Reading is kept free of torch and MettaGrid so a report can be built anywhere; measuring them is
`benchmark.evaluation.references` (`archbench references`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

REFERENCES_FILE = Path(__file__).resolve().parent / "references.json"
FORMAT = "archbench-references-v1"


def load_references(path: Path = REFERENCES_FILE) -> dict:
    """The reference scores ({} levels when the file is missing: every level then reads as unscored), with
    `sha256`: the first 12 hex digits of the file's hash, which names the scale in every report."""
    if not path.is_file():
        return {"format": FORMAT, "levels": {}}
    raw = path.read_bytes()
    data = json.loads(raw)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a references file (format {data.get('format')!r}, expected {FORMAT})")
    return {**data, "sha256": hashlib.sha256(raw).hexdigest()[:12]}


def reference_score(data: dict, level: str, sim: str, policy: str, metric: str) -> float:
    """A baseline's mean score on one evaluation; NaN when the file has none."""
    try:
        return float(data["levels"][level][sim][policy][metric]["mean"])
    except KeyError:
        return float("nan")


def describe_references(data: dict) -> str:
    if not data.get("levels"):
        return "none: run `archbench references`"
    return (
        f"benchmark/levels/references.json of {data.get('date')} (sha256 {data.get('sha256')}), "
        f"{data.get('episodes')} episodes per evaluation, mettagrid {data.get('mettagrid')}"
    )
