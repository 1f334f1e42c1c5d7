"""The report's sections on how the budget was spent: "Adaptive decisions" (`--adaptive`: what was decided per
level, when, and the seeds it took) and "Screening" (`--screen`: which architectures stopped at which rung).

Reads the ledger's `adaptive` record as plain JSON (the report needs no orchestration imports)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from benchmark.reporting.markup import Paragraph, Section, Table

TITLE = "Adaptive decisions"
SIGN = {"larger": ">", "smaller": "<", "equal": "=", "futile": "~", "continue": "?"}


def _decision(cmp: Mapping[str, Any]) -> str:
    return {
        "larger": "better",
        "smaller": "worse",
        "equal": "no difference found (seed cap)",
        "futile": "no difference expected by the cap: stopped early",
        "continue": "undecided",
    }[cmp["decision"]]


def _num(value: object, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "-"


def _rule(holm: bool, futility: float | None) -> str:
    """How a pair was decided: by Holm's steps, or (older ledgers) by the package's boundary."""
    if holm:
        stop = (
            ""
            if not futility
            else f" A pair whose conditional power (the chance of a decision by the cap if the difference seen so far "
            f"is the true one) fell below {futility} stopped asking for seeds ('no difference expected'); it stays "
            "in Holm's count, so stopping it never makes another pair easier to decide."
        )
        return (
            "At each interim every undecided pair gets a permutation p-value of |mean a - mean b| (the statistic) "
            "over its seeds so far; with m pairs undecided, the smallest p-value must reach the interim's share of "
            "alpha / m, the next its share / (m - 1), and so on (Holm's step-down), so each interim may decide several "
            "pairs. The interims whose seeds can decide share alpha equally; an earlier interim, whose seeds cannot "
            f"give so small a p-value, spends none.{stop}"
        )
    return (
        "The test statistic is (interim + 1) x |mean a - mean b|; a pair is decided when the largest statistic among "
        "the undecided pairs crosses the interim's boundary (step-down, so each interim may decide several pairs)."
    )


def _then(cmp: Mapping[str, Any], boundary: Mapping[int, Any]) -> object:
    return boundary.get(cmp["stage"] if cmp.get("stage") is not None else max(boundary))


def adaptive_section(record: Mapping[str, Any]) -> Section:
    """Per level: its status, every comparison with its decision and the interim that made it, seeds per cell."""
    cap = record["seeds_per_stage"] * record["max_stages"]
    holm = "Holm" in record["method"]  # ledgers before 2026-11-29 hold the adastop package's statistic
    blocks: list = [
        Paragraph(
            f"Seeds were added adaptively (`--adaptive`): {record['method']}. Every cell started with "
            f"{record['seeds_per_stage']} seeds; after each interim, only the architectures in a still undecided "
            f"comparison got {record['seeds_per_stage']} more, up to {cap}. On each level the probability of "
            f"declaring any difference that is not there is at most {record['alpha']} (family-wise, over all "
            f"pairs and interims), on {record['metric'].replace('_', ' ')} averaged over the level's evaluations. "
            "A decided pair is a reliable difference; 'no difference found' at the cap is not proof of equality: "
            f"the difference, if any, is smaller than these seeds can show. {_rule(holm, record.get('futility'))}"
        )
    ]
    seeds_rows = []
    for level, lv in record["levels"].items():
        boundary = {i["stage"]: i.get("boundary") for i in lv.get("interims", [])}
        rows = [
            {
                "comparison": f"{c['a']} {SIGN[c['decision']]} {c['b']}",
                "decision (a vs b)": _decision(c),
                "decided at interim": "-" if c.get("stage") is None else str(c["stage"] + 1),
                "statistic": _num(c["statistic"]),
                **({"p-value": _num(c["p_value"], 4)} if holm else {"boundary then": _num(_then(c, boundary))}),
                "mean a": _num(c["mean_a"]),
                "mean b": _num(c["mean_b"]),
            }
            for c in lv.get("comparisons", [])
        ]
        interims = len(lv.get("interims", []))
        blocks.append(Paragraph(f"**{level}**: {lv['status']} after {interims} interim(s)."))
        if rows:
            blocks.append(Table(pd.DataFrame(rows), f"{level}: pairwise decisions"))
        seeds_rows.append({"level": level, **lv.get("seeds", {}), "runs": sum(lv.get("seeds", {}).values())})
    if seeds_rows:
        table = pd.DataFrame(seeds_rows).fillna(0)
        blocks.append(Table(table.astype({c: int for c in table.columns if c != "level"}), "Seeds each cell got"))
    return Section(TITLE, tuple(blocks))


def screening_section(record: Mapping[str, Any]) -> Section:
    """Per level and rung: the budget, every architecture's mean score, who continued and who stopped."""
    budgets = ", ".join(f"{b:,}" for b in record["budgets"])
    blocks: list = [
        Paragraph(
            f"Architectures were screened by successive halving (`--screen`): rung budgets {budgets} agent steps. "
            f"After each rung, the architectures were ranked by the median {record['metric'].replace('_', ' ')} "
            f"over their seeds (averaged over the level's evaluations); the best {record['keep']:.0%} continued from "
            "their checkpoints at the next budget, the others stopped. Only full-budget runs enter the ranking "
            "above; a stopped architecture's rank at its last rung is a decision made on a shorter budget, with "
            "the noise of few seeds, not a measurement at the full budget."
        )
    ]
    for level, rungs in record["levels"].items():
        rows = [
            {
                "rung": str(r["rung"]),
                "budget": f"{r['budget']:,}",
                "continued": ", ".join(r["kept"]),
                "stopped": ", ".join(r["stopped"]) or "-",
                "median scores": ", ".join(f"{a} {_num(v)}" for a, v in r["scores"].items()),
            }
            for r in rungs
        ]
        if rows:
            blocks.append(Table(pd.DataFrame(rows), f"{level}: rungs"))
        else:
            blocks.append(Paragraph(f"**{level}**: rung 0 is still running."))
    return Section("Screening", tuple(blocks))
