"""The sparse first convolution's entries from tokens, as one compiled loop (CPU).

`ScatterCNNEncoder.first_conv` needs, for every (output position, agent) bag, the kernel rows its tokens
select and their weights. In torch that is about 35 small tensor operations per call, which made it the
largest part of `fast`'s per-step inference on CPU; this numba loop does the same in two passes over the
tokens. It yields exactly the entries of the torch path, in the same order (tested), and is used only for
CPU tensors when numba is installed; everything else takes the torch path.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np


def _entries(
    tokens: np.ndarray,
    base: np.ndarray,
    cats: np.ndarray,
    scale: np.ndarray,
    window: int,
    kernel: int,
    stride: int,
    side: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """tokens [N, K, 3] uint8 -> (table row, bag, weight) per entry, grouped by bag = position * N + agent
    and in token order within a bag, plus each bag's first entry (embedding_bag offsets)."""
    n, k_slots = tokens.shape[0], tokens.shape[1]
    positions = side * side
    centre = window // 2
    counts = np.zeros(positions * n + 1, np.int64)
    offsets = counts
    rows = np.empty(0, np.int64)
    bags = np.empty(0, np.int64)
    weights = np.empty(0, np.float32)
    fill = counts
    for phase in range(2):  # count the entries of each bag, then write them in place
        if phase == 1:
            offsets = np.cumsum(counts)
            total = offsets[-1]
            rows = np.empty(total, np.int64)
            bags = np.empty(total, np.int64)
            weights = np.empty(total, np.float32)
            fill = offsets[:-1].copy()
        for a in range(n):
            for t in range(k_slots):
                loc = tokens[a, t, 0]
                if loc == 0xFF:
                    continue
                f = tokens[a, t, 1]
                v = tokens[a, t, 2]
                b = base[f]
                cat = cats[f]
                if b < 0 or (cat == 0 and v == 0):
                    continue
                if loc == 0xFE:
                    r, c = centre, centre
                else:
                    r, c = loc >> 4, loc & 0x0F
                if r >= window or c >= window:
                    continue
                channel = b + min(v, cat - 1) if cat > 0 else b
                weight = 1.0 if cat > 0 else v * scale[f]
                for i in range(side):
                    dy = r - i * stride
                    if dy < 0 or dy >= kernel:
                        continue
                    for j in range(side):
                        dx = c - j * stride
                        if dx < 0 or dx >= kernel:
                            continue
                        bag = (i * side + j) * n + a
                        if phase == 0:
                            counts[bag + 1] += 1
                        else:
                            e = fill[bag]
                            fill[bag] += 1
                            rows[e] = channel * kernel * kernel + dy * kernel + dx
                            bags[e] = bag
                            weights[e] = weight
    return rows, bags, weights, offsets[:-1]


@cache
def compiled_entries() -> Callable | None:
    """The compiled loop (numba imported and the loop compiled on first use, cached on disk), or None
    without numba; importing this module stays free for commands that never run a CNN."""
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba is a dependency; the torch path still works without it
        return None
    return njit(cache=True, nogil=True)(_entries)
