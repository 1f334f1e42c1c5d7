"""Evaluate a trained policy, or the uniform-random baseline, on the same evaluation episodes.

Every run of a level is scored on episodes with the same seeds (`eval_seed(k)`), disjoint from training
seeds, so trained and random policies are compared on identical maps. One episode is noise: the
default is 16 per simulation, reported with a 95% confidence interval over episodes.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats as sps

from benchmark.architectures import get_architecture, load_architectures_module
from benchmark.atomic import atomic_write_json
from benchmark.components.base import ObsSpec
from benchmark.evaluation.baselines import EpisodeRandom, RandomPolicy
from benchmark.evaluation.replays import REPLAY_FORMAT, REPLAY_SUFFIX, Recorders, mettagrid_version, replay_folder
from benchmark.evaluation.scripted import ScriptedPolicy
from benchmark.levels import get_level
from benchmark.levels.base import LevelConfig
from benchmark.policy import Policy
from benchmark.tracking.wandb_tracker import Tracker
from benchmark.training.checkpoint import CHECKPOINT, load_checkpoint
from benchmark.training.ppo import sample_actions
from benchmark.training.runtime import configure_threads, pick_device
from benchmark.training.vecenv import BatchedEnv, EpisodeResult, eval_seed

EVAL_FILE = "eval.json"
# the fixed policies every level is scored against (0 = random, 1 = scripted expert)
BASELINES = ("random", "scripted")
DEFAULT_EPISODES = 16


def mean_ci(values: list[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean with a Student-t interval over episodes (a zero-width interval for a single episode)."""
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "std": 0.0}
    sem = float(x.std(ddof=1) / math.sqrt(len(x)))
    half = float(sps.t.ppf(0.5 + confidence / 2, len(x) - 1) * sem)
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "std": float(x.std(ddof=1))}


def summarize(episodes: list[EpisodeResult]) -> dict:
    resources = episodes[0].gained_per_agent.keys()
    return {
        "episodes": len(episodes),
        "seeds": [e.seed for e in episodes],
        "reward_per_agent": mean_ci([e.reward_per_agent for e in episodes]),
        "hearts_per_agent": mean_ci([e.hearts_per_agent for e in episodes]),
        "gained_per_agent": {r: float(np.mean([e.gained_per_agent[r] for e in episodes])) for r in resources},
        "behaviour_per_agent": {
            k: float(np.mean([e.behaviour_per_agent[k] for e in episodes])) for k in episodes[0].behaviour_per_agent
        },
        "per_episode": {
            "reward_per_agent": [e.reward_per_agent for e in episodes],
            "hearts_per_agent": [e.hearts_per_agent for e in episodes],
        },
    }


class TrainedPolicy:
    """A checkpointed policy acting step by step with its recurrent state, sampling from its logits."""

    def __init__(self, policy: Policy, device: torch.device, rows: int, seed: int):
        self.policy = policy.eval()
        self.device = device
        self.state = policy.initial_state(rows, device)
        self.gen = torch.Generator()
        self.gen.manual_seed(seed)

    @torch.no_grad()
    def act(self, obs: np.ndarray, reset: np.ndarray) -> np.ndarray:
        x = self.policy.prepare(torch.from_numpy(obs).to(self.device))
        r = torch.from_numpy(reset).to(self.device)
        out, self.state = self.policy(x.unsqueeze(1), r.unsqueeze(1), self.state)
        gen = self.gen if self.device.type == "cpu" else None
        return sample_actions(out["logits"], gen).cpu().numpy()


def load_policy(ckpt: dict, env_spec: ObsSpec, device: torch.device | str = "cpu") -> Policy:
    """The checkpoint's policy, built for the spec it was trained on, then adapted to `env_spec`.

    Token (attention) encoders remap features by name; box (CNN) encoders raise ObservationError when the
    feature table or window changed (see `Policy.adapt`).
    """
    arch = get_architecture(ckpt["architecture"])
    policy = Policy(arch, ObsSpec.from_dict(ckpt["obs_spec"]))
    policy.load_state_dict(ckpt["model"])
    policy.adapt(env_spec)
    return policy.to(device)


def run_episodes(
    level: LevelConfig, sim: str, episodes: int, make_actor, replays: int = 0, replay_dir: Path | None = None
) -> tuple[list[EpisodeResult], list[str]]:
    """Play `episodes` evaluation episodes of one simulation at once, one MettaGrid sim per episode; the first
    `replays` of them are recorded with MettaGrid's own replay writer into `replay_dir` (returns their paths)."""
    env = BatchedEnv(level, episodes, seeds=[eval_seed(k) for k in range(episodes)], sim_config=level.evaluation(sim))
    try:
        actor = make_actor(env)
        recorders = Recorders(env, min(replays, episodes) if replay_dir is not None else 0)
        reset = np.ones(env.num_rows, dtype=bool)
        results: dict[int, EpisodeResult] = {}
        written: list[str] = []
        while len(results) < episodes:
            done, finished = env.step(actor.act(env.obs, reset), restart=False)
            recorders.log(results)
            for e in finished:
                results.setdefault(e.slot, e)
                if replay_dir is not None and recorders.has(e.slot):
                    written.append(recorders.write(e.slot, replay_dir / f"{sim}.ep{e.slot}{REPLAY_SUFFIX}"))
            reset = done
        return [results[k] for k in range(episodes)], written
    finally:
        env.close()


def evaluate(
    *,
    run_dir: Path | None = None,
    level_name: str | None = None,
    policy_kind: str = "trained",
    episodes: int = DEFAULT_EPISODES,
    seed: int = 0,
    device_name: str = "auto",
    threads: int | None = None,
    out: Path | None = None,
    architectures_module: str | None = None,
    wandb_mode: str = "disabled",
    replays: int = 0,
) -> dict:
    """Evaluate a checkpoint in `run_dir` (policy 'trained') or the random policy on `level_name`; record the first
    `replays` episodes of each simulation as MettaScope replays next to the output (`replay_folder`)."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    configure_threads(threads, role="eval")
    device = pick_device(device_name)
    started = time.time()
    if policy_kind in BASELINES:
        if level_name is None:
            raise ValueError(f"the {policy_kind} policy needs --level")
        level = get_level(level_name)
        arch_name, ckpt_step, train_cfg = policy_kind, 0, {}

        def make_actor(env: BatchedEnv):
            if policy_kind == "scripted":
                return ScriptedPolicy(level, env.spec, EpisodeRandom(seed, env.num_sims, env.agents))
            return RandomPolicy(env.spec.num_actions, seed, env.num_sims, env.agents)
    elif policy_kind == "trained":
        if run_dir is None:
            raise ValueError("evaluating a trained policy needs --run DIR")
        ckpt = load_checkpoint(Path(run_dir) / CHECKPOINT, device)
        module = architectures_module or ckpt["train_config"].get("architectures_module")
        if module:
            load_architectures_module(module)
        level = get_level(level_name or ckpt["level"])
        get_architecture(ckpt["architecture"])  # an unknown name fails before any environment is built
        arch_name, ckpt_step, train_cfg = ckpt["architecture"], ckpt["global_step"], ckpt["train_config"]

        def make_actor(env: BatchedEnv):
            return TrainedPolicy(load_policy(ckpt, env.spec, device), device, env.num_rows, seed)
    else:
        raise ValueError(f"unknown policy {policy_kind!r}; valid: trained, {', '.join(BASELINES)}")

    target = out or (Path(run_dir) / EVAL_FILE if run_dir else None)
    replay_dir = replay_folder(target) if target is not None and replays > 0 else None
    sims, replay_files = {}, {}
    for sim in level.evaluations:
        played, replay_files[sim] = run_episodes(level, sim, episodes, make_actor, replays, replay_dir)
        sims[sim] = summarize(played)
    result = {
        "format": "archbench-eval-v1",
        "policy": policy_kind,
        "architecture": arch_name,
        "level": level.name,
        "checkpoint_agent_steps": ckpt_step,
        "episodes_per_simulation": episodes,
        "eval_seed": seed,
        "seconds": round(time.time() - started, 3),
        "simulations": sims,
    }
    if replay_dir is not None:  # paths relative to the output's folder: the files move with it (and off a node)
        files = {sim: [str(Path(f).relative_to(target.parent)) for f in paths] for sim, paths in replay_files.items()}
        result["replays"] = {"format_version": REPLAY_FORMAT, "mettagrid": mettagrid_version(), "files": files}
    run_id = train_cfg.get("run_id") or f"{arch_name}.{level.name}.s{train_cfg.get('seed', 0)}"
    tracker = Tracker.start(
        project=train_cfg.get("wandb_project", "archbench"),
        group=train_cfg.get("experiment_id") or "adhoc",
        job_type="eval",
        run_id=run_id,
        name=f"{run_id}.eval",
        config={"architecture": arch_name, "level": level.name, "episodes": episodes, "policy": policy_kind},
        tags=[arch_name, level.name],
        mode=wandb_mode if policy_kind == "trained" else "disabled",
        dir=Path(run_dir) if run_dir else Path(target).parent if target else Path("."),
    )
    flat = {
        f"{sim}/{metric}": m[metric]["mean"]
        for sim, m in sims.items()
        for metric in ("reward_per_agent", "hearts_per_agent")
    }
    tracker.log(flat, step=ckpt_step)
    tracker.summary(flat)
    tracker.finish()
    result["wandb"] = tracker.location()
    if target is not None:
        atomic_write_json(Path(target), result)
        result["path"] = str(target)
    return result
