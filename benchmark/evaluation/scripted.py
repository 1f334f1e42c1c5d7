"""A scripted expert: the fixed yardstick every level's scores are normalised against (0 = random, 1 = this).

It plays from the same token observations the architectures see, and from the level's rules (recipes, reward
weights and caps) that a designer would give a script:
- it reads its 11x11 window into a grid of object types, the buildings' stock and its own inventory;
- it keeps a reserve of every item whose holding pays up to a cap (ore and batteries on the shaped levels) and
  converts only what lies above it: mine -> generator -> altar, plus a lasery or armory while their items pay
  and it holds the inputs; a building's free stock (a stocked generator or altar) is always worth a visit;
- it walks the shortest path around walls, buildings and agents to the best goal in view (nearest, with a
  fixed preference for the later links of the chain), bumping into the goal to use it;
- with no goal in view it explores: it keeps a heading and turns, at random, when blocked.
It never attacks (combat evaluations score how it copes with other agents, all scripted, in the way).

Everything is vectorised over rows (one per agent of every episode played at once) with numpy: one goal
search is a few dozen array relaxations per step, so an evaluation costs about what the random policy's costs.
Deterministic given the seed, episode by episode (see EpisodeRandom).
"""

from __future__ import annotations

import numpy as np

from benchmark.components.base import ObsSpec
from benchmark.evaluation.baselines import EpisodeRandom
from benchmark.levels.base import LevelConfig
from benchmark.levels.economy import BUILDINGS, OUTPUT, RESOURCES

NOOP, NORTH, SOUTH, WEST, EAST = range(5)
MOVES = ((NORTH, -1, 0), (SOUTH, 1, 0), (WEST, 0, -1), (EAST, 0, 1))
MOVE_ACTIONS = np.array([m for m, _, _ in MOVES])
FAR = 10_000
# added to a goal's distance: later links of the chain first when two are about as near; an empty mine (it
# refills every few steps) only when nothing else is in view
PREFERENCE = {"altar": 0, "lasery": 1, "armory": 1, "generator": 2, "mine": 3}
EMPTY_MINE = 9
HOLDING_ORE = 6
EXPLORE_TURN = 0.05  # chance per step of a new heading while exploring in the open
JITTER = 0.02  # chance per step of a random move, so two agents blocking each other in a corridor part


class ScriptedPolicy:
    """The economy's scripted expert, acting on a batch of token observations [N, K, 3]."""

    def __init__(self, level: LevelConfig, spec: ObsSpec, random: EpisodeRandom):
        game = level.game().game  # tag ids and token value base: the same in every evaluation of a level
        tag_names = game.id_map().tag_names()
        self.kind_of_tag = np.full(256, -1, dtype=np.int64)  # tag value -> index into BUILDINGS, -2 wall/agent
        for value, name in enumerate(tag_names):
            kind = name.removeprefix("type:")
            self.kind_of_tag[value] = BUILDINGS.index(kind) if kind in BUILDINGS else -2
        names = list(spec.feature_names)
        self.tag_feature = names.index("tag")
        self.base = int(game.obs.token_value_base)
        # feature id -> (resource index, place value) for inventory counts, split over "inv:x" and "inv:x:p1"
        self.inv_resource = np.full(256, -1, dtype=np.int64)
        self.inv_scale = np.zeros(256, dtype=np.int64)
        for fid, name in enumerate(names):
            parts = name.split(":")
            if parts[0] == "inv" and parts[1] in RESOURCES:
                self.inv_resource[fid] = RESOURCES.index(parts[1])
                self.inv_scale[fid] = self.base ** int(parts[2][1:]) if len(parts) > 2 else 1
        self.window = spec.window
        self.centre = spec.window // 2
        # a reserve of each item whose holding pays up to a cap; a heart (or an uncapped item) is never held back
        self.reserve = np.array(
            [level.reward_caps.get(r, 0) if level.rewards.get(r, 0.0) > 0 else 0 for r in RESOURCES], dtype=np.int64
        )
        self.pays = np.array([level.rewards.get(r, 0.0) > 0 for r in RESOURCES])
        self.caps = np.array([level.reward_caps.get(r, 0) for r in RESOURCES], dtype=np.int64)
        self.recipes = {b: np.array([level.recipes.get(b, {}).get(r, 0) for r in RESOURCES]) for b in BUILDINGS}
        self.random = random
        self.heading: np.ndarray | None = None

    # ---- reading the window ----------------------------------------------------------------------

    def read(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(kind [N, W, W]: building index, -2 obstacle, -1 free; stock [N, W, W, R]: items held per cell)."""
        n, w = obs.shape[0], self.window
        loc, feature, value = (obs[..., i].astype(np.int64) for i in range(3))
        spatial = loc < 0xFE
        row, col = loc >> 4, loc & 0x0F
        kind = np.full((n, w, w), -1, dtype=np.int64)
        r, k = np.nonzero(spatial & (feature == self.tag_feature))
        kind[r, row[r, k], col[r, k]] = self.kind_of_tag[value[r, k]]
        stock = np.zeros((n, w, w, len(RESOURCES)), dtype=np.int64)
        r, k = np.nonzero(spatial & (self.inv_resource[feature] >= 0))
        f = feature[r, k]
        np.add.at(stock, (r, row[r, k], col[r, k], self.inv_resource[f]), value[r, k] * self.inv_scale[f])
        return kind, stock

    def goals(self, kind: np.ndarray, stock: np.ndarray) -> np.ndarray:
        """Each cell's goal cost [N, W, W]: its preference if it is a building worth bumping now, else FAR."""
        c = self.centre
        mine = stock[:, c, c, :]  # own inventory
        spare = mine - self.reserve
        cost = np.full(kind.shape, FAR, dtype=np.int64)
        for b, name in enumerate(BUILDINGS):
            out = RESOURCES.index(OUTPUT[name])
            here = kind == b
            free_stock = stock[..., out] > 0
            if name == "mine":
                # ore in hand that could be converted makes another trip to a mine less urgent
                busy = np.broadcast_to((spare[:, out] > 0)[:, None, None], here.shape)[here]
                cost[here] = PREFERENCE[name] + HOLDING_ORE * busy + np.where(free_stock[here], 0, EMPTY_MINE)
                continue
            recipe = self.recipes[name]
            able = ((spare >= recipe) | (recipe == 0)).all(axis=1)
            if name in ("lasery", "armory"):
                # worth it only while the item pays and is below its cap (the inputs come from above the reserve)
                able &= self.pays[out] & (mine[:, out] < self.caps[out])
                free_stock &= (self.pays[out] & (mine[:, out] < self.caps[out]))[:, None, None]
            worth = here & (free_stock | able[:, None, None])
            cost[worth] = PREFERENCE[name]
        return cost

    # ---- acting ----------------------------------------------------------------------------------

    def act(self, obs: np.ndarray, reset: np.ndarray) -> np.ndarray:
        n, c = obs.shape[0], self.centre
        # one fixed block of uniforms per row and step: jitter?, jitter move, turn?, new heading
        u = self.random.uniform(4)
        if self.heading is None or len(self.heading) != n:
            self.heading = np.zeros(n, dtype=np.int64)
            reset = np.ones(n, dtype=bool)
        self.heading[reset] = (u[reset, 3] * 4).astype(np.int64)
        kind, stock = self.read(obs)
        free = kind == -1
        free[:, c, c] = True
        # the best first move: into the neighbour with the lowest cost (a goal next to us is bumped into)
        around = relax(self.goals(kind, stock), free, c)  # [N, 4]
        actions = MOVE_ACTIONS[around.argmin(axis=1)]
        lost = np.flatnonzero(around.min(axis=1) >= FAR)
        if len(lost):
            actions[lost] = self.explore(free[lost], lost, u[lost])
        jitter = u[:, 0] < JITTER
        actions[jitter] = MOVE_ACTIONS[(u[jitter, 1] * 4).astype(np.int64)]
        return actions

    def explore(self, free: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Keep each lost row's heading; turn to a random open direction when the way ahead is blocked (or
        now and then)."""
        c = self.centre
        open_ = np.stack([free[:, c + dr, c + dc] for _, dr, dc in MOVES], axis=1)  # [M, 4]
        heading = self.heading[rows]
        turn = ~open_[np.arange(len(rows)), heading] | (u[:, 2] < EXPLORE_TURN)
        count = open_.sum(axis=1)
        # the k-th open direction, k uniform over the open ones (any direction when boxed in)
        k = (u[:, 3] * np.maximum(count, 1)).astype(np.int64)
        kth_open = (np.cumsum(open_, axis=1) > k[:, None]).argmax(axis=1)
        choice = np.where(count > 0, kth_open, (u[:, 3] * 4).astype(np.int64))
        heading = np.where(turn, choice, heading)
        self.heading[rows] = heading
        return MOVE_ACTIONS[heading]


def relax(goal: np.ndarray, free: np.ndarray, centre: int) -> np.ndarray:
    """The cost of each first move from the centre [N, 4] (MOVES order): the least (goal's cost + steps) over
    paths through free cells into a goal, FAR where none.

    A breadth-first search of all rows at once on bit rows (a window row is one uint16): in round t the cells
    reached are the goals of cost <= t and the free cells next to cells reached in round t - 1. A first move's
    cost is the round its cell is first reached; the search stops once every row has one."""
    n, w, _ = goal.shape
    weights = (1 << np.arange(w, dtype=np.uint16)).astype(np.uint16)
    full = np.uint16((1 << w) - 1)

    def bits(cells: np.ndarray) -> np.ndarray:
        return (cells.astype(np.uint16) * weights).sum(axis=2, dtype=np.uint16)  # [N, W]

    open_ = bits(free)
    levels = sorted(int(v) for v in np.unique(goal) if v < FAR)
    sources = {v: bits(goal == v) for v in levels}
    reached = np.zeros((n, w), dtype=np.uint16)
    cells = [(centre + dr, np.uint16(1 << (centre + dc))) for _, dr, dc in MOVES]
    first = np.full((n, 4), FAR, dtype=np.int64)
    last = levels[-1] if levels else 0
    for t in range(3 * w + last):
        if t in sources:
            reached |= sources[t]
        for k, (row, bit) in enumerate(cells):
            first[:, k] = np.where((first[:, k] == FAR) & ((reached[:, row] & bit) > 0), t, first[:, k])
        grown = reached | ((reached << 1) & full) | (reached >> 1)
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown = (grown & open_) | reached
        # a row is settled once it has a first move, or (every goal added) when its search stops growing
        settled = (first < FAR).any(axis=1)
        if t >= last:
            settled |= (grown == reached).all(axis=1)
        if settled.all():
            break
        reached = grown
    return first
