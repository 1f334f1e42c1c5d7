"""A calibration probe, so a plan's time estimate is never blank: a few seconds of real training per cell.

For each (architecture, level) without measured throughput, `--dry-run` trains two short PPO updates (384 rows
x 16 steps each) and times the second: the training agent-steps/s, and the rollout (environment + inference;
the environment alone for the random policy) agent-steps/s from which an evaluation's duration follows
(episodes x evaluations x episode length x agents).
It trains with the threads a local job would get at the plan's --max-parallel.

Measured with a 16-step segment instead of the usual 64, so memories whose cost grows with the segment
(attention over the sequence) look somewhat faster than they train. A real run's measured throughput (the
ledgers) always wins over the probe. The results are cached in `<output-dir>/.probe/<machine>.json`, keyed by
this machine (host, cores, device, torch, mettagrid) and by each architecture's and level's configuration, so
an edited architecture is probed again and an unchanged one never is.
"""

from __future__ import annotations

import hashlib
import json
import platform
import tempfile
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

from benchmark.atomic import atomic_write_text
from benchmark.orchestration.plan import Throughput

PROBE_ROWS, PROBE_BPTT, PROBE_UPDATES = 384, 16, 2


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def machine_key(device: str) -> str:
    from benchmark.cpus import available_cpus

    parts = [platform.node(), str(available_cpus()), device, _version("torch"), _version("mettagrid")]
    return f"{platform.node() or 'host'}-{_digest('|'.join(parts))}"


def cell_key(architecture: str, level: str) -> str:
    """Names a cell by its configuration too: an edited architecture or level is a new cell."""
    from benchmark.architectures import get_architecture
    from benchmark.levels import get_level

    arch = get_architecture(architecture).model_dump_json()
    lv = get_level(level).model_dump_json()
    return f"{architecture}|{level}|{_digest(arch)}|{_digest(lv)}"


def probe_cell(architecture: str, level: str, threads: int, architectures_module: str | None = None) -> dict:
    """Train PROBE_UPDATES short updates; the last one's training and rollout agent-steps/s."""
    from benchmark.training.config import TrainConfig
    from benchmark.training.trainer import METRICS, train

    with tempfile.TemporaryDirectory(prefix="archbench-probe-") as out:
        cfg = TrainConfig(
            architecture=architecture,
            level=level,
            timesteps=PROBE_UPDATES * PROBE_ROWS * PROBE_BPTT,
            rows=PROBE_ROWS,
            bptt=PROBE_BPTT,
            threads=threads,
            checkpoint_seconds=1e9,
            log_seconds=0.0,
            stop_collapsed=False,
            out=Path(out),
            architectures_module=architectures_module,
        )
        train(cfg)
        lines = [json.loads(line) for line in (Path(out) / METRICS).read_text().splitlines()]
    first, last = lines[-2], lines[-1]
    steps = last["agent_steps"] - first["agent_steps"]
    env = last["time_env"] - first["time_env"]
    rollout = env + (last["time_infer"] - first["time_infer"])
    return {
        "train_sps": float(last["sps"]),
        "rollout_sps": steps / max(rollout, 1e-9),  # what an evaluation of the policy does
        "env_sps": steps / max(env, 1e-9),  # the random policy: the environment alone
        "threads": threads,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def eval_seconds(level: str, episodes: int, rollout_sps: float) -> float:
    """An evaluation's duration from the rollout speed: every evaluation plays `episodes` full episodes."""
    from benchmark.levels import get_level

    lv = get_level(level)
    agent_steps = episodes * len(lv.evaluations) * lv.max_steps * lv.num_agents
    return agent_steps / max(rollout_sps, 1e-9) + 5.0  # + start-up: imports, building the simulations


def probe(
    cells: Iterable[tuple[str, str]],
    cache_dir: Path,
    device: str,
    threads: int,
    episodes: int,
    architectures_module: str | None = None,
    say: Callable[[str], None] = print,
) -> Throughput:
    """Throughput for `cells` from the cache, probing the cells it lacks (and caching them at once)."""
    path = Path(cache_dir) / f"{machine_key(device)}.json"
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    train_sps: dict[tuple[str, str], float] = {}
    evals: dict[tuple[str, str], float] = {}
    for architecture, level in cells:
        key = cell_key(architecture, level)
        if key not in cache:
            start = time.perf_counter()
            cache[key] = probe_cell(architecture, level, threads, architectures_module)
            say(
                f"probe {architecture} on {level}: {cache[key]['train_sps']:,.0f} training agent-steps/s "
                f"({time.perf_counter() - start:.1f} s)"
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(cache, indent=1, sort_keys=True))
        train_sps[(architecture, level)] = cache[key]["train_sps"]
        evals[(architecture, level)] = eval_seconds(level, episodes, cache[key]["rollout_sps"])
        evals.setdefault(("random", level), eval_seconds(level, episodes, cache[key]["env_sps"]))
    return Throughput(train_sps=train_sps, eval_seconds=evals)
