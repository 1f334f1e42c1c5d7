"""What a cloud plan will cost: GPU-node hours from measured throughput plus node setup, priced from SkyPilot's catalog.

Every figure says where it comes from. Run times come from training throughput measured on a GPU when an
earlier ledger has one, else from this machine's CPU throughput (then an upper bound: a GPU node is faster).
Node setup (provisioning, the CUDA torch and project install) has not been measured here (no cloud): it is
an assumption, shown as one. Prices are the cheapest offering of exactly `--gpus` x `--accelerator` in
SkyPilot's own catalog (the `vms.csv` it keeps per cloud under ~/.sky/catalogs), on-demand or spot. The
catalog lookup runs in a thread with a deadline: an unreachable catalog makes the price "unknown", never a
hang.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from benchmark.orchestration.plan import Plan, Role

NODE_SETUP_SECONDS = 600.0  # assumed per managed job (provisioning + install): not measured here
DEFAULT_CLOUDS = ("aws", "gcp", "azure", "lambda")  # searched when --cloud is not given
CATALOG_DEADLINE_SECONDS = 30.0


@dataclass(frozen=True)
class Price:
    cloud: str
    instance_type: str
    region: str
    on_demand: float  # $ per hour for the whole instance
    spot: float | None


def _lookup(accelerator: str, gpus: int, clouds: tuple[str, ...]) -> tuple[Price | None, list[str]]:
    import sky.catalog

    logging.getLogger("sky").setLevel(logging.CRITICAL)  # a missing cloud catalog is a problem we report ourselves

    best: Price | None = None
    problems: list[str] = []
    for cloud in clouds:
        try:
            offers = sky.catalog.list_accelerators(
                gpus_only=True, name_filter=accelerator, quantity_filter=gpus, clouds=cloud, case_sensitive=False
            )
        except Exception as exc:  # noqa: BLE001 - any catalog failure only costs us a price
            problems.append(f"{cloud}: {type(exc).__name__}")
            continue
        for name, items in offers.items():
            if name.lower() != accelerator.lower():
                continue  # the filter is a regex 'contains': A100 also matches A100-80GB
            for item in items:
                if item.price is None or item.price != item.price:  # NaN: not sold on demand there
                    continue
                spot = item.spot_price if item.spot_price == item.spot_price else None
                if best is None or item.price < best.on_demand:
                    best = Price(item.cloud, str(item.instance_type), item.region, float(item.price), spot)
    return best, problems


def catalog_price(accelerator: str, gpus: int, cloud: str | None) -> tuple[Price | None, str]:
    """The cheapest offering, or None and why not."""
    clouds = (cloud.split("/", 1)[0].lower(),) if cloud else DEFAULT_CLOUDS
    clouds = tuple("kubernetes" if c == "k8s" else c for c in clouds)
    answer: list = []

    def lookup() -> None:
        try:
            answer.append(_lookup(accelerator, gpus, clouds))
        except Exception as exc:  # noqa: BLE001 - any catalog failure only costs us a price
            answer.append(exc)

    worker = threading.Thread(target=lookup, daemon=True)  # a daemon: a hung download never blocks exit
    worker.start()
    worker.join(CATALOG_DEADLINE_SECONDS)
    if not answer:
        return None, f"SkyPilot's catalog did not answer within {CATALOG_DEADLINE_SECONDS:.0f} s (offline?)"
    if isinstance(answer[0], Exception):
        return None, f"SkyPilot's catalog could not be read ({type(answer[0]).__name__}: {answer[0]})"
    best, problems = answer[0]
    if best is None:
        why = f"; unreadable: {', '.join(problems)}" if problems else ""
        return None, f"no {accelerator}:{gpus} offering in SkyPilot's catalog for {', '.join(clouds)}{why}"
    return best, ""


def node_hours(plan: Plan, done: set[str], setup_seconds: float) -> tuple[float, int, int]:
    """(GPU-node hours, GPU jobs counted, GPU jobs without an estimate) of the jobs still to do."""
    seconds, counted, unknown = 0.0, 0, 0
    for job in plan.jobs:
        if job.job_id in done or job.role == Role.BASELINE:  # baselines run on a CPU node: not GPU hours
            continue
        if job.estimate_seconds is None:
            unknown += 1
            continue
        seconds += job.estimate_seconds + setup_seconds
        counted += 1
    return seconds / 3600.0, counted, unknown


def cost_lines(
    plan: Plan,
    done: set[str],
    *,
    accelerator: str,
    gpus: int,
    cloud: str | None,
    use_spot: bool,
    cluster: bool,
    gpu_measured: bool,
    price: Price | None,
    price_problem: str = "",
) -> list[str]:
    """The dry run's cost estimate, each figure with its source."""
    setup = 0.0 if cluster else NODE_SETUP_SECONDS
    hours, counted, unknown = node_hours(plan, done, setup)
    source = "training throughput measured on a GPU" if gpu_measured else "this machine's CPU throughput (upper bound)"
    lines = [
        f"cloud estimate: {counted} GPU jobs, ~{hours:.1f} node-hours of {accelerator}:{gpus} (run times from "
        f"{source}; node setup {setup / 60:.0f} min per job, "
        + ("assumed, not measured" if setup else "once per cluster, not counted")
        + (f"; {unknown} jobs without a measured throughput are not counted" if unknown else "")
        + ")"
    ]
    if price is None:
        lines.append(f"price: unknown ({price_problem})")
        return lines
    spot = f", spot ${price.spot:.2f}/h" if price.spot is not None else ", no spot price"
    rate = price.spot if use_spot and price.spot is not None else price.on_demand
    kind = "spot" if use_spot and price.spot is not None else "on-demand"
    lines.append(
        f"price: ${price.on_demand:.2f}/h on-demand{spot} for {price.instance_type} ({price.cloud}, "
        f"{price.region}; cheapest {accelerator}:{gpus} in SkyPilot's catalog)"
    )
    lines.append(
        f"cost: ~${hours * rate:,.0f} {kind} for ~{hours:.1f} node-hours (random baselines: CPU nodes, not counted)"
    )
    return lines
