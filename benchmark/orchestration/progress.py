"""What the controller shows while it runs: a live architecture x level grid on a terminal, event lines otherwise."""

from __future__ import annotations

import time
from collections import Counter

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from benchmark.orchestration.ledger import Ledger, Status
from benchmark.orchestration.plan import Plan

STYLE = {
    "start": "cyan",
    "success": "green",
    "retry": "yellow",
    "stalled": "yellow",
    "failed": "red",
    "skipped": "magenta",
    "interrupted": "yellow",
    "reattached": "cyan",
    "warning": "yellow",
    "error": "red",
}


def grid_table(plan: Plan, ledger: Ledger) -> Table:
    """One cell per (architecture, level): seeds evaluated / seeds, and what is running or failed."""
    archs = list(dict.fromkeys(r.architecture for r in plan.runs))
    levels = list(dict.fromkeys(r.level for r in plan.runs))
    wanted = {r.run_id for r in plan.runs}
    cells: dict[tuple[str, str], Counter] = {}
    for run in ledger.runs:
        if run.run_id not in wanted:
            continue
        c = cells.setdefault((run.architecture, run.level), Counter())
        c["seeds"] += 1
        tr, ev = run.training.status, run.evaluation.status
        if ev == Status.SUCCESS:
            c["done"] += 1
        elif Status.FAILED in (tr, ev):
            c["failed"] += 1
        elif tr == Status.RUNNING:
            c["training"] += 1
        elif ev == Status.RUNNING:
            c["evaluating"] += 1
        elif ev == Status.SKIPPED:
            c["skipped"] += 1
    table = Table(title=f"experiment {plan.experiment_id}: seeds evaluated per cell", title_justify="left")
    table.add_column("architecture")
    for level in levels:
        table.add_column(level, justify="center")
    for arch in archs:
        row: list[Text | str] = [arch]
        for level in levels:
            c = cells.get((arch, level), Counter())
            text = Text(f"{c['done']}/{c['seeds']}", style="green" if c["done"] == c["seeds"] else "")
            for key, mark, style in (
                ("training", " train", "cyan"),
                ("evaluating", " eval", "cyan"),
                ("failed", " fail", "red"),
                ("skipped", " skip", "magenta"),
            ):
                if c[key]:
                    text.append(f"{mark}{c[key] if c[key] > 1 else ''}", style=style)
            row.append(text)
        table.add_row(*row)
    base = [ledger.baselines[lv].status for lv in levels if lv in ledger.baselines]
    if base:
        marks = {
            Status.SUCCESS: Text("done", "green"),
            Status.RUNNING: Text("eval", "cyan"),
            Status.FAILED: Text("fail", "red"),
            Status.SKIPPED: Text("skip", "magenta"),
        }
        table.add_row(Text("random baseline", style="dim"), *[marks.get(s, Text("-", "dim")) for s in base])
    return table


def job_counts(plan: Plan, ledger: Ledger) -> Counter:
    from benchmark.orchestration.jobs import record_for

    return Counter(record_for(ledger, job).status.value for job in plan.jobs)


class Reporter:
    """Receives the scheduler's events. `live=True` draws the grid (rich Live); otherwise prints one line each."""

    def __init__(self, plan: Plan, ledger: Ledger, console: Console, live: bool, quiet: bool = False):
        self.plan, self.ledger, self.console = plan, ledger, console
        self.quiet = quiet
        self.started = time.monotonic()
        self.live = (
            Live(get_renderable=self._render, console=console, refresh_per_second=2, transient=False)
            if live and not quiet
            else None
        )

    def _render(self) -> Group:
        counts = job_counts(self.plan, self.ledger)
        elapsed = time.monotonic() - self.started
        line = Text(
            f"jobs: {counts['running']} running, {counts['pending']} pending, {counts['success']} done, "
            f"{counts['failed']} failed, {counts['skipped']} skipped | {elapsed // 60:.0f}:{elapsed % 60:02.0f}",
            style="dim",
        )
        return Group(grid_table(self.plan, self.ledger), line)

    def __enter__(self) -> Reporter:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def event(self, job_id: str, event: str, message: str) -> None:
        if self.quiet:
            return
        elapsed = time.monotonic() - self.started
        text = Text(f"[{elapsed:7.1f}s] ", style="dim")
        text.append(f"{event:<11}", style=STYLE.get(event, ""))
        text.append(f" {job_id}" + (f": {message}" if message else ""))
        self.console.print(text, soft_wrap=True, highlight=False)
