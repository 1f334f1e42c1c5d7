"""Early stop of a collapsed run: a policy that has become deterministic while scoring like a random one.

Definition (checked at every update, once a quarter of the budget is trained): over a window of the last 10%
of the budget (at least 10 updates), every update's policy entropy stayed below 5% of its maximum (ln of the
action count) AND its rollout reward per agent stayed at most 1.1x the level's random-policy reward (the shipped
reference file). Such a policy no longer explores, so PPO's gradient, driven by the entropy of the sampled
actions, cannot bring it back: the rest of the budget would be spent on a run that stays where it is.

The run ends early and normally: its checkpoint is saved and evaluated like any other (a collapsed policy is a
real outcome of its architecture, and dropping it would flatter the architectures that collapse), and its
`train_summary.json` says `stopped_early` with the reason. Measured against the project's healthy learning
curves (level 1 calibration runs, levels 4 and 5 ladder runs): their lowest entropy is 0.40 nats, 25% of the
maximum 1.61, so the rule never fires on them.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

START_FRACTION = 0.25  # nothing is judged before a quarter of the budget
WINDOW_FRACTION = 0.10  # the stretch that must look collapsed, as a share of the budget
MIN_WINDOW_UPDATES = 10
ENTROPY_FRACTION = 0.05  # "at its floor": below 5% of ln(actions)
REWARD_MARGIN = 1.1  # "at the random level": at most 1.1x the random policy's reward per agent


@dataclass
class CollapseWatch:
    budget: int  # agent steps the run may train
    actions: int  # size of the action space
    random_reward: float  # the level's random-policy reward per agent (NaN: unknown, the rule never fires)
    _recent: deque = field(default_factory=deque)  # (agent_steps, collapsed?) per update

    def observe(self, agent_steps: int, entropy: float, reward: float) -> str | None:
        """Record one update; the reason to stop when the run has collapsed, else None."""
        floor = ENTROPY_FRACTION * math.log(self.actions)
        low = math.isfinite(self.random_reward) and reward <= REWARD_MARGIN * max(self.random_reward, 0.0)
        self._recent.append((agent_steps, entropy < floor and low))
        window = WINDOW_FRACTION * self.budget
        while len(self._recent) > MIN_WINDOW_UPDATES and agent_steps - self._recent[1][0] >= window:
            self._recent.popleft()  # keep the shortest tail that still spans the window
        if agent_steps < START_FRACTION * self.budget or len(self._recent) < MIN_WINDOW_UPDATES:
            return None
        span = agent_steps - self._recent[0][0]
        if span < window or not all(flag for _, flag in self._recent):
            return None
        return (
            f"collapsed at agent step {agent_steps:,}: entropy below {floor:.3f} nats (5% of ln {self.actions}) and "
            f"rollout reward per agent at most {REWARD_MARGIN}x random ({self.random_reward:.3f}) for the last "
            f"{len(self._recent)} updates ({span:,} agent steps)"
        )
