"""The resource arena's economy, rebuilt from MettaGrid 0.26.22 handlers.

mine -> ore; generator: ore -> battery; altar: battery -> heart; lasery: ore + battery -> laser;
armory: ore -> armor. A building that holds stock hands it out first (a withdraw), then converts
what the agent carries. Combat is a handler on the agent itself: bumping another agent while holding
a laser spends the laser; armor absorbs the shot, otherwise one battery is stolen.
"""

from __future__ import annotations

from mettagrid.config.event_config import EventConfig, periodic
from mettagrid.config.handler_config import (
    Handler,
    actorHas,
    firstMatch,
    targetHas,
    updateActor,
    updateTarget,
    withdraw,
)
from mettagrid.config.mettagrid_config import GridObjectConfig, InventoryConfig, ResourceLimitsConfig
from mettagrid.config.query import query
from mettagrid.config.reward_config import AgentReward, inventoryReward
from mettagrid.config.tag import typeTag

RESOURCES: tuple[str, ...] = ("ore", "battery", "heart", "laser", "armor")
BUILDINGS: tuple[str, ...] = ("mine", "generator", "altar", "lasery", "armory")
# Converter ratios of the harder levels (2-5): a 3:1 altar and costlier lasers and armor.
SCARCE_RECIPES: dict[str, dict[str, int]] = {
    "generator": {"ore": 1},
    "altar": {"battery": 3},
    "lasery": {"ore": 1, "battery": 2},
    "armory": {"ore": 3},
}
# The 25x25 arena of levels 3-5.
LARGE_ARENA: dict[str, int] = {"mine": 8, "generator": 4, "altar": 3, "lasery": 2, "armory": 2, "wall": 30}
# What each building hands out (its stock item).
OUTPUT: dict[str, str] = {
    "mine": "ore",
    "generator": "battery",
    "altar": "heart",
    "lasery": "laser",
    "armory": "armor",
}


def converter(name: str, inputs: dict[str, int], output: str, stock: int) -> GridObjectConfig:
    """A building that first hands out its stock, then turns the agent's inputs into one output."""
    take_stock = Handler(filters=[targetHas({output: 1})], mutations=[withdraw({output: 1})])
    convert = Handler(
        filters=[actorHas(inputs)],
        mutations=[updateActor({**{item: -n for item, n in inputs.items()}, output: 1})],
    )
    initial = {output: stock} if stock > 0 else {}
    return GridObjectConfig(
        name=name,
        map_name=name,
        inventory=InventoryConfig(initial=initial),
        on_use_handler=firstMatch([take_stock, convert]),
    )


def mine(stock: int, capacity: int) -> GridObjectConfig:
    """A mine holds ore (up to `capacity`, refilled by the regeneration event) and hands it out.

    The limit is explicit: MettaGrid 0.26.22 applies `default_limit` only to items in the initial
    inventory, so a mine that starts empty would fill without bound."""
    limit = ResourceLimitsConfig(base=capacity, max=capacity, resources=["ore"])
    return GridObjectConfig(
        name="mine",
        map_name="mine",
        inventory=InventoryConfig(initial={"ore": stock} if stock > 0 else {}, limits={"ore": limit}),
        on_use_handler=Handler(filters=[targetHas({"ore": 1})], mutations=[withdraw({"ore": 1})]),
    )


def mine_regeneration(period: int) -> EventConfig:
    return EventConfig(
        name="mine_regen",
        target_query=query(typeTag("mine")),
        timesteps=periodic(start=period, period=period),
        mutations=[updateTarget({"ore": 1})],
        max_targets=None,
    )


def combat_handler(laser_cost: int) -> Handler | None:
    """Bumping an agent with a laser: armor absorbs the shot, else one battery is stolen."""
    blocked = Handler(
        filters=[actorHas({"laser": laser_cost}), targetHas({"armor": 1})],
        mutations=[updateActor({"laser": -laser_cost}), updateTarget({"armor": -1})],
    )
    steal = Handler(
        filters=[actorHas({"laser": laser_cost}), targetHas({"battery": 1})],
        mutations=[updateActor({"laser": -laser_cost}), withdraw({"battery": 1})],
    )
    return firstMatch([blocked, steal])


def item_rewards(weights: dict[str, float], caps: dict[str, int]) -> dict[str, AgentReward]:
    """Inventory rewards: each step pays the change of weight * min(count, cap), so only `cap` items pay."""
    return {
        item: inventoryReward(item, weight=weight, max=weight * caps[item] if item in caps else None)
        for item, weight in weights.items()
        if weight != 0.0
    }
