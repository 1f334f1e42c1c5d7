"""The experiment controller behind `python benchmark/adaptive.py` and `archbench run`.

options -> validated names -> plan -> ledger (new, or the one to resume) -> backend -> scheduler, with a live grid,
Ctrl-C handling and a final account of where everything went.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import math
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from benchmark.errors import UsageError
from benchmark.orchestration.backend import Backend
from benchmark.orchestration.graph import JobSource, Outcome
from benchmark.orchestration.grid import (  # noqa: F401 - merge_plan, make_plan, measured_throughput: public
    check_budget,
    make_plan,
    measured_throughput,
    merge_plan,
    plan_throughput,
    resolve_names,
)
from benchmark.orchestration.growth import (  # noqa: F401 - adaptive_source: public (the simulation uses it)
    adaptive_source,
    probed_plan,
    screening_source,
    sequential_policy,
)
from benchmark.orchestration.ledger import (
    Ledger,
    LedgerStore,
    Session,
    Status,
    capture_environment,
    now_iso,
    read_ledger,
)
from benchmark.orchestration.options import ExperimentOptions
from benchmark.orchestration.plan import Plan
from benchmark.orchestration.printing import print_cost, print_plan, print_summary
from benchmark.orchestration.progress import Reporter
from benchmark.orchestration.reevaluate import reopen_evaluations
from benchmark.orchestration.scheduler import Scheduler, SchedulerConfig
from benchmark.orchestration.screening import ScreeningSource
from benchmark.orchestration.sequential import AdaptiveSource

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def new_ledger(options: ExperimentOptions) -> Ledger:
    return Ledger(
        experiment_id=options.experiment_id,
        start_time=now_iso(),
        updated_time=now_iso(),
        max_timesteps=options.timesteps,
        config={},
        environment=capture_environment(Path(__file__).resolve().parents[2]),
    )


@contextlib.contextmanager
def experiment_lock(path: Path) -> Iterator[None]:
    """One controller per experiment: a second one would launch the same jobs again. Freed even by SIGKILL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = Path(path).read_text().strip() or "?"
            raise UsageError(f"another controller (pid {holder}) is running this experiment ({path.parent})") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


# ---- the run --------------------------------------------------------------------------------------------------


def run_experiment(
    options: ExperimentOptions,
    resume_command: str,
    backend: Backend | None = None,
    console: Console | None = None,
    live: bool | None = None,
) -> int:
    """Plan, then (unless --dry-run) run the experiment to the end, an error, or Ctrl-C. Returns the exit code.

    A backend that becomes unavailable (no cloud enabled) ends the run with a UsageError: one line, exit 2,
    the ledger saved and valid."""
    from benchmark.orchestration import factory

    console = console or Console(soft_wrap=True)  # long lines stay whole in logs
    wandb_mode = factory.resolve_wandb_mode(options)
    archs, levels = resolve_names(options)
    plan = make_plan(options, [] if options.screen else archs, levels, wandb_mode)  # --screen: rungs come later
    existing = read_ledger(plan.paths.ledger, options.experiment_id)
    if existing is not None:
        check_budget(existing, options)
    if options.dry_run and options.screen:  # show the rungs decided so far (rung 0 for a new experiment)
        scratch = existing.model_copy(deep=True) if existing is not None else new_ledger(options)
        screening_source(options, archs, levels, wandb_mode, plan, scratch).update()
        console.print(
            f"screening: {options.screen_rungs} rungs of {', '.join(f'{b:,}' for b in scratch.screening.budgets)} "
            "agent steps; every architecture trains the first, the better half of each rung continues",
            highlight=False,
        )
    if options.dry_run and options.local and options.probe:
        plan = probed_plan(options, archs, levels, wandb_mode, plan, console)
    if options.adaptive:
        n, cap = options.seeds_per_level, options.interims * options.seeds_per_level
        console.print(
            f"adaptive: {n} seeds per cell to start, {n} more per interim while a comparison on its level is "
            f"undecided, at most {cap} (permutation tests, Holm, family-wise error {options.alpha} per level; a pair "
            f"whose conditional power at the cap is below {options.futility} stops)",
            highlight=False,
        )
        policy = sequential_policy(options, archs, levels)
        first = policy.config.first_deciding_interim(len(archs))
        if first != 0:
            cannot = "no interim" if first is None else f"the first {first} interim(s)"
            console.print(
                f"note: {n} seeds per interim give p-values of at least 2/{math.comb(2 * n, n)}: {cannot} cannot "
                f"decide a pair of {len(archs)} architectures (they only stop futile pairs; --seeds-per-level "
                f"{policy.config.seeds_to_decide_first(len(archs))} lets the first decide)",
                highlight=False,
            )
        if existing is not None:
            cells = policy.wanted(policy.analyse(existing))
            plan.extend(make_plan(options, archs, levels, wandb_mode, cells=cells))
    if options.dry_run:
        sky_opts = None if options.local else factory.sky_options(options, wandb_mode, factory.code_source())
        print_plan(console, plan, options, existing, options.max_parallel or factory.default_max_parallel(options))
        if sky_opts is not None:  # files only: no sky import, no API server
            folder, count = factory.write_sky_yamls(plan, sky_opts, options.eval_where)
            console.print(f"SkyPilot: {sky_opts.summary()}", highlight=False)
            console.print(f"task YAMLs: {count} written to {folder}/ (secrets redacted)", highlight=False)
            print_cost(console, plan, options, existing, plan_throughput(options)[1])
            for problem in factory.cloud_problems(options, wandb_mode):
                console.print(f"[yellow]note[/]: a real launch refuses this: {problem}", highlight=False)
        console.print("nothing launched (--dry-run)")
        return EXIT_OK

    backend = backend or factory.make_backend(options, wandb_mode)
    capacity = getattr(backend, "capacity", None)
    max_parallel = options.max_parallel or capacity or factory.default_max_parallel(options)
    if capacity and max_parallel > capacity:
        console.print(f"note: --max-parallel {max_parallel} > {capacity} GPU slots; running {capacity} at once")
    resolved = options.model_copy(
        update={
            "architectures": archs,
            "levels": levels,
            "max_parallel": max_parallel,
            "wandb_mode": wandb_mode,
        }
    )
    with experiment_lock(plan.paths.lock):
        # read again under the lock: another controller may have written it meanwhile
        ledger = read_ledger(plan.paths.ledger, options.experiment_id) or new_ledger(options)
        check_budget(ledger, options)
        ledger.config = resolved.model_dump(mode="json", exclude={"dry_run"})
        backend_config = getattr(backend, "ledger_config", None)
        if callable(backend_config):
            ledger.config["backend"] = backend_config()
        ledger.environment = capture_environment(Path(__file__).resolve().parents[2])
        ledger.end_time = None
        session = Session(
            started_at=now_iso(), command=resume_command, pid=os.getpid(), git_commit=ledger.environment.git_commit
        )
        ledger.sessions.append(session)
        merge_plan(ledger, plan)
        if options.reevaluate:
            reopened = reopen_evaluations(ledger, plan)
            console.print(f"--reevaluate: {reopened} finished evaluation(s) will run again; earlier ones kept")
        source: JobSource | None = None
        if options.adaptive:  # the seeds the decisions so far ask for (a resume replays them from the runs)
            source = adaptive_source(options, archs, levels, wandb_mode, plan, ledger)
            source.add_cells(source.update())
        elif options.screen:  # the rungs decided so far (a resume recomputes them from the runs)
            source = screening_source(options, archs, levels, wandb_mode, plan, ledger)
            source.update()
        store = LedgerStore(plan.paths.ledger, ledger)
        store.save()
        console.print(
            f"experiment {plan.experiment_id}: {len(plan.runs)} runs, {len(plan.jobs)} jobs, at most {max_parallel} "
            f"at once on the {backend.name} backend; ledger {plan.paths.ledger}"
        )
        sky_opts = getattr(backend, "options", None)
        if hasattr(sky_opts, "summary"):
            console.print(f"SkyPilot: {sky_opts.summary()}", highlight=False)
        config = SchedulerConfig(
            max_parallel=max_parallel,
            retries=options.retries,
            backoff_seconds=options.retry_backoff,
            stall_timeout=options.stall_timeout,
            skip_training=options.skip_training,
        )
        live = console.is_terminal if live is None else live
        outcome = asyncio.run(_run(plan, store, backend, config, console, live, source))
        if isinstance(source, AdaptiveSource | ScreeningSource):
            source.update()
        session.ended_at = now_iso()
        if outcome.fatal:
            session.outcome = "backend unavailable"
        else:
            session.outcome = "interrupted" if outcome.interrupted else ("complete" if outcome.complete else "failed")
        if not outcome.interrupted and outcome.pending == 0:
            ledger.end_time = now_iso()
        store.save()
    if outcome.fatal:  # one line, exit 2; launched nothing more, the ledger is valid and the same command resumes
        raise UsageError(outcome.fatal)
    if options.skip_training:
        missing = [
            r.run_id for r in plan.runs if (rr := ledger.run(r.run_id)) and rr.evaluation.status == Status.SKIPPED
        ]
        if missing:
            console.print(
                f"[magenta]--skip-training[/]: {len(missing)} run(s) have no checkpoint and were not "
                f"evaluated: {', '.join(missing)}",
                highlight=False,
                soft_wrap=True,
            )
    print_summary(console, plan, ledger, outcome, resume_command, getattr(sky_opts, "storage", None))
    write_report(console, options)
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    runs_ok = all((rr := ledger.run(r.run_id)) and rr.evaluation.status == Status.SUCCESS for r in plan.runs)
    return EXIT_OK if runs_ok and outcome.failed == 0 else EXIT_FAILED


def write_report(console: Console, options: ExperimentOptions) -> None:
    """The report is rebuilt after every session, also on a partial grid; a failure here never loses results."""
    from benchmark.reporting.loader import build_report

    try:
        paths = build_report(options.experiment_id, options.output_dir)
    except Exception as exc:  # noqa: BLE001 - the ledger is already safe; say why the report is missing
        console.print(f"report: not written ({type(exc).__name__}: {exc})", highlight=False, soft_wrap=True)
        return
    console.print(f"report:      {paths['report.md']} (and report.html, figures/, tables/)")


async def _run(
    plan: Plan,
    store: LedgerStore,
    backend: Backend,
    config: SchedulerConfig,
    console: Console,
    live: bool,
    source: JobSource | None = None,
) -> Outcome:
    reporter = Reporter(plan, store.ledger, console, live=live)
    scheduler = Scheduler(plan, store, backend, config, on_event=reporter.event, source=source)
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal(signum: int) -> None:
        nonlocal signals
        signals += 1
        name = signal.Signals(signum).name
        if signals == 1:
            console.print(f"\n{name}: launching nothing more; stopping running jobs (again to hurry)...")
        scheduler.request_stop(force=signals > 1)

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests): no handlers
            pass
    try:
        with reporter:
            return await scheduler.run()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await backend.close()
