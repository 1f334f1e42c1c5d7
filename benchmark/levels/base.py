"""A level: one pydantic config that builds MettaGrid environments for training and evaluation.

Every variant (an evaluation without combat, a curriculum task) is derived from the level's base game
by `model_copy(deep=True)`: the older suite shared nested dicts through a shallow copy and silently gave
its "basic" evaluation combat too.
"""

from __future__ import annotations

from mettagrid.config.action_config import ActionsConfig, ChangeVibeActionConfig
from mettagrid.config.mettagrid_config import AgentConfig, GameConfig, MettaGridConfig, WallConfig
from mettagrid.map_builder.random_map import RandomMapBuilder
from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmark.levels.economy import (
    BUILDINGS,
    OUTPUT,
    RESOURCES,
    combat_handler,
    converter,
    item_rewards,
    mine,
    mine_regeneration,
)

EVALUATIONS = ("basic", "combat")


class CurriculumConfig(BaseModel):
    """Learning-progress task sampling (bidirectional), as in the reference suite's expert level."""

    model_config = ConfigDict(frozen=True)

    ema_timescale: float = Field(0.001, gt=0, le=1, description="slow EMA rate of each task's score")
    fast_timescale: float = Field(0.05, gt=0, le=1, description="fast EMA rate; progress = |fast - slow|")
    exploration_bonus: float = Field(0.1, ge=0, description="added to every task's progress before sampling")
    num_active_tasks: int = Field(16, ge=1, description="tasks sampled by progress at a time")
    rand_task_rate: float = Field(0.25, ge=0, le=1, description="share of episodes on a uniformly random task")
    stocked: tuple[str, ...] = Field(
        ("mine", "generator", "altar"),
        description="buildings a task may pre-stock (one bit each): the heart chain, so stock shortens it",
    )
    stock: int = Field(3, ge=1, description="items a pre-stocked building starts with")
    kits: tuple[dict[str, int], ...] = Field(
        ({}, {"ore": 3}, {"battery": 1}, {"battery": 3}),
        description="what agents may start holding (a power of two of them): a kit starts agents part-way "
        "along the chain, so a random policy already earns hearts in the easiest tasks",
    )

    @model_validator(mode="after")
    def _check(self) -> CurriculumConfig:
        unknown = [b for b in self.stocked if b not in BUILDINGS]
        if unknown:
            raise ValueError(f"stocked names unknown buildings {unknown}; valid: {list(BUILDINGS)}")
        if len(self.kits) & (len(self.kits) - 1):
            raise ValueError(f"{len(self.kits)} kits: the number of kits must be a power of two")
        return self

    @property
    def num_tasks(self) -> int:
        return 2 ** len(self.stocked) * len(self.kits) * 2


class LevelConfig(BaseModel):
    """One benchmark level. Defaults follow the reference suite; `notes` records where we differ."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="registry key, e.g. level_1_basic")
    title: str = Field(description="one-line description shown by `archbench list`")
    difficulty: int = Field(ge=1, le=5)
    width: int = Field(ge=7, description="map width including the border wall")
    height: int = Field(ge=7)
    num_agents: int = Field(ge=1)
    combat: bool = Field(description="whether training episodes allow laser combat")
    laser_cost: int = Field(1, ge=1, description="lasers spent per shot")
    rewards: dict[str, float] = Field(description="reward weight per item held")
    reward_caps: dict[str, int] = Field(
        default_factory=dict, description="most items of a kind that pay (reward cap = weight x this count)"
    )
    recipes: dict[str, dict[str, int]] = Field(description="building -> items consumed for one output")
    starting_stock: dict[str, int] = Field(description="building -> items it holds at episode start")
    buildings: dict[str, int] = Field(description="object -> count placed on the map (walls included)")
    mine_capacity: int = Field(4, ge=1, description="most ore a mine holds")
    mine_regen_period: int = Field(10, ge=1, description="steps between +1 ore in every mine")
    max_steps: int = Field(1000, ge=10, description="episode length")
    obs_window: int = Field(11, ge=3, description="egocentric window (odd, at most 15)")
    obs_tokens: int = Field(200, ge=16, description="observation tokens per agent")
    evaluations: tuple[str, ...] = Field(("basic",), description="evaluation simulations")
    curriculum: CurriculumConfig | None = Field(None, description="task curriculum (level 5)")
    notes: str = Field("", description="where this level departs from the reference, and why")

    @model_validator(mode="after")
    def _check(self) -> LevelConfig:
        unknown = set(self.rewards) - set(RESOURCES)
        if unknown:
            raise ValueError(f"rewards name unknown items {sorted(unknown)}; valid: {list(RESOURCES)}")
        for building in self.recipes:
            if building not in BUILDINGS or building == "mine":
                raise ValueError(f"recipe for {building!r}; valid: {[b for b in BUILDINGS if b != 'mine']}")
        for sim in self.evaluations:
            if sim not in EVALUATIONS:
                raise ValueError(f"evaluation {sim!r}; valid: {list(EVALUATIONS)}")
        if self.obs_window % 2 == 0 or self.obs_window > 15:
            raise ValueError(f"obs_window {self.obs_window} must be odd and at most 15")
        return self

    # ---- building environments -------------------------------------------------------------------

    def game(self, *, combat: bool | None = None, stock: dict[str, int] | None = None) -> MettaGridConfig:
        """The level's game with an independent copy of every nested config."""
        stock = {**self.starting_stock, **(stock or {})}
        objects = {"wall": WallConfig()}
        objects["mine"] = mine(stock.get("mine", 0), self.mine_capacity)
        for building, inputs in self.recipes.items():
            objects[building] = converter(building, inputs, OUTPUT[building], stock.get(building, 0))
        agent = AgentConfig(rewards=item_rewards(self.rewards, self.reward_caps))
        if self.combat if combat is None else combat:
            agent.on_use_handler = combat_handler(self.laser_cost)
        game = GameConfig(
            num_agents=self.num_agents,
            max_steps=self.max_steps,
            resource_names=list(RESOURCES),
            actions=ActionsConfig(change_vibe=ChangeVibeActionConfig(enabled=False)),
            objects=objects,
            agent=agent,
            map_builder=RandomMapBuilder.Config(
                agents=self.num_agents,
                width=self.width,
                height=self.height,
                border_width=1,
                seed=0,
                objects={k: v for k, v in self.buildings.items() if v > 0},
            ),
            events={"mine_regen": mine_regeneration(self.mine_regen_period)},
        )
        game.obs.width = self.obs_window
        game.obs.height = self.obs_window
        game.obs.num_tokens = self.obs_tokens
        return MettaGridConfig(game=game, label=self.name)

    def with_map_seed(self, cfg: MettaGridConfig, map_seed: int) -> MettaGridConfig:
        out = cfg.model_copy(deep=True)
        out.game.map_builder.seed = int(map_seed)
        return out

    def evaluation(self, sim: str) -> MettaGridConfig:
        """An evaluation simulation, derived from the base game by deep copy."""
        if sim not in self.evaluations:
            raise ValueError(f"level {self.name} has no evaluation {sim!r}; valid: {list(self.evaluations)}")
        cfg = self.game().model_copy(deep=True)
        combat = sim == "combat"
        cfg.game.agent.on_use_handler = combat_handler(self.laser_cost) if combat else None
        cfg.label = f"{self.name}/{sim}"
        return cfg

    # ---- curriculum tasks --------------------------------------------------------------------------

    @property
    def num_tasks(self) -> int:
        return self.curriculum.num_tasks if self.curriculum else 1

    def task_variant(self, task_id: int) -> tuple[dict[str, int], dict[str, int], bool]:
        """(building stock, agents' starting kit, combat) of curriculum task `task_id`: its low bits pick the
        stocked buildings, the next ones the kit, the top bit combat."""
        c = self.curriculum
        if c is None:
            return {}, {}, self.combat
        if not 0 <= task_id < self.num_tasks:
            raise ValueError(f"task {task_id} out of range 0..{self.num_tasks - 1}")
        n = len(c.stocked)
        stock = {b: c.stock for i, b in enumerate(c.stocked) if (task_id >> i) & 1}
        kit = c.kits[(task_id >> n) % len(c.kits)]
        combat = bool(task_id // (2**n * len(c.kits)))
        return stock, dict(kit), combat

    def task(self, task_id: int) -> MettaGridConfig:
        """Curriculum variant `task_id` (see `task_variant`); the level's own game without a curriculum."""
        if self.curriculum is None:
            return self.game()
        stock, kit, combat = self.task_variant(task_id)
        cfg = self.game(combat=combat, stock=stock).model_copy(deep=True)
        if kit:
            cfg.game.agent.inventory.initial = dict(kit)
        cfg.label = f"{self.name}/task{task_id}"
        return cfg
