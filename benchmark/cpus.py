"""How many CPUs a job may use, and how many are busy right now: torch-free, so the controller can ask too."""

from __future__ import annotations

import os
import time


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def busy_cpus(seconds: float = 0.2) -> float:
    """CPUs busy right now, machine-wide (from /proc/stat over `seconds`); 0.0 where that cannot be read."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    elapsed = total1 - total0
    if elapsed <= 0:
        return 0.0
    return (os.cpu_count() or 1) * (elapsed - (idle1 - idle0)) / elapsed


def free_cpus(busy: float | None = None) -> int:
    """CPUs of ours that nothing else is using (at least 1). A job that takes every CPU while another
    process is busy makes its OpenMP threads wait on each other: 20x slower in measurements."""
    busy = busy_cpus() if busy is None else busy
    return max(1, min(available_cpus(), round(available_cpus() - busy + 0.25)))
