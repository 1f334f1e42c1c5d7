"""PPO on batched MettaGrid simulations, readable top to bottom (after CleanRL's ppo_atari_lstm).

Rows are agents, all sharing one policy. Each update collects a `bptt`-step segment from every row,
computes GAE, then trains on whole row-segments so recurrent state flows through the segment exactly
as it did while acting. The training is resumable: a run folder holding a checkpoint continues from it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from benchmark.architectures import get_architecture, load_architectures_module
from benchmark.atomic import atomic_write_json
from benchmark.levels import get_level
from benchmark.levels.curriculum import LearningProgressCurriculum
from benchmark.levels.references import load_references, reference_score
from benchmark.policy import Policy, count_parameters
from benchmark.tracking.wandb_tracker import Tracker
from benchmark.training.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from benchmark.training.collapse import CollapseWatch
from benchmark.training.config import TrainConfig
from benchmark.training.ppo import compute_gae, logprob_entropy, ppo_loss, sample_actions
from benchmark.training.run_folder import METRICS, SUMMARY, TrainResult, adopt, finished_run, trim_metrics
from benchmark.training.runtime import (
    Uploader,
    autocast,
    configure_threads,
    pick_device,
    pick_precision,
    seed_everything,
)
from benchmark.training.workers import default_workers, make_env


class NonFiniteLoss(RuntimeError):
    """A deterministic failure: retrying the same job would fail the same way."""


def train(cfg: TrainConfig, progress=None) -> TrainResult:
    """Train `cfg.architecture` on `cfg.level`; resume a checkpoint in `cfg.out`; leave a finished run as it is."""
    done = finished_run(cfg)
    if done is not None:
        return done
    # ---- setup -----------------------------------------------------------------------------------
    if cfg.architectures_module:
        load_architectures_module(cfg.architectures_module)
    level = get_level(cfg.level)
    arch = get_architecture(cfg.architecture)
    device = pick_device(cfg.device)
    precision = pick_precision(cfg.precision, device, arch.hints.cpu_bf16)
    threads = configure_threads(cfg.threads)
    gen = seed_everything(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    num_sims = cfg.num_sims or max(1, cfg.rows // level.num_agents)
    curriculum = LearningProgressCurriculum(level.curriculum, level.num_tasks, cfg.seed) if level.curriculum else None
    ckpt_path = out / CHECKPOINT
    if cfg.init_from is not None and not ckpt_path.exists():  # continue another run (a screening rung)
        adopt(Path(cfg.init_from), out)
    ckpt = load_checkpoint(ckpt_path, device) if ckpt_path.exists() else None  # resume
    if ckpt is not None:
        if (ckpt["level"], ckpt["architecture"], ckpt["seed"]) != (cfg.level, cfg.architecture, cfg.seed):
            raise ValueError(
                f"{ckpt_path} belongs to {ckpt['architecture']}/{ckpt['level']}/seed {ckpt['seed']}, "
                f"not {cfg.architecture}/{cfg.level}/seed {cfg.seed}: use another --out"
            )
        if curriculum is not None and ckpt.get("curriculum"):
            curriculum.load_state_dict(ckpt["curriculum"])
    workers = default_workers(cfg.env_workers, threads, num_sims, device.type == "cuda")
    if workers and device.type == "cpu":
        torch.set_num_threads(max(1, threads - workers))  # the workers' cores are not torch's
    double_buffer = cfg.double_buffer if cfg.double_buffer is not None else workers >= 2 and device.type == "cuda"
    env = make_env(
        level,
        num_sims,
        workers,
        double_buffer,
        run_seed=cfg.seed,
        stagger=True,
        curriculum=curriculum,
        # resumed: fresh episodes after the ones already played, not replays of them
        episode_offset=max(ckpt["episodes"]) if ckpt is not None else 0,
    )
    settings = cfg.settings(arch.hints)
    rows, horizon = env.num_rows, int(settings["bptt"])
    policy = Policy(arch, env.spec).to(device)
    lr = settings["learning_rate"]
    minibatches = min(rows, int(settings["minibatches"]))
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr, eps=1e-5)
    global_step, update = 0, 0
    if ckpt is not None:
        policy.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        global_step, update = ckpt["global_step"], ckpt["update"]
        gen.set_state(ckpt["generator"])
        trim_metrics(out / METRICS, global_step)
    resumed_from = global_step
    parameters = count_parameters(policy)

    def checkpoint(path: Path = ckpt_path) -> None:
        save_checkpoint(
            path,
            {
                "format": "archbench-checkpoint-v1",
                "level": cfg.level,
                "architecture": cfg.architecture,
                "seed": cfg.seed,
                "architecture_config": arch.model_dump(mode="json"),
                "obs_spec": env.spec.to_dict(),
                "train_config": cfg.model_dump(mode="json"),
                "model": policy.state_dict(),
                "optimizer": optimizer.state_dict(),
                "global_step": global_step,
                "update": update,
                "generator": gen.get_state(),
                "curriculum": curriculum.state_dict() if curriculum else None,
                "episodes": list(env.episodes),
            },
        )

    # ---- rollout storage ---------------------------------------------------------------------------
    upload = Uploader(device)
    next_obs = policy.prepare(upload("obs", env.obs)).clone()  # owned: written part by part below
    obs_buf = torch.zeros((horizon, rows, *next_obs.shape[1:]), dtype=next_obs.dtype, device=device)
    actions = torch.zeros((horizon, rows), dtype=torch.long, device=device)
    logprobs = torch.zeros((horizon, rows), device=device)
    values = torch.zeros((horizon, rows), device=device)
    rewards = torch.zeros((horizon, rows), device=device)
    dones = torch.zeros((horizon, rows), dtype=torch.bool, device=device)
    resets = torch.zeros((horizon, rows), dtype=torch.bool, device=device)
    next_reset = torch.ones(rows, dtype=torch.bool, device=device)
    state = policy.initial_state(rows, device)
    parts = env.parts

    run_id = cfg.run_id or f"{cfg.architecture}.{cfg.level}.s{cfg.seed}"
    tracker = Tracker.start(
        project=cfg.wandb_project,
        group=cfg.experiment_id or "adhoc",
        job_type="train",
        run_id=run_id,
        name=f"{run_id}.train",
        config={
            **cfg.model_dump(mode="json"),
            "parameters": parameters,
            "architecture_config": arch.model_dump(mode="json"),
        },
        tags=[cfg.architecture, cfg.level, f"seed{cfg.seed}"],
        mode=cfg.wandb_mode,
        dir=out,
    )
    metrics_file = (out / METRICS).open("a")
    references = load_references()
    watch = CollapseWatch(
        budget=cfg.timesteps,
        actions=env.spec.num_actions,
        random_reward=reference_score(references, cfg.level, "basic", "random", "reward_per_agent"),
    )
    stopped_early: str | None = None
    start = time.time()
    last_log = last_ckpt = start
    steps_at_log = global_step
    timing = {"env": 0.0, "infer": 0.0, "learn": 0.0}
    episodes: list = []
    stats: dict[str, torch.Tensor] = {}
    try:
        while global_step < cfg.timesteps:
            # ---- rollout: one bptt segment per row (the last one only as long as the budget needs) ----
            steps = min(horizon, -(-(cfg.timesteps - global_step) // rows))
            segment_state = state.clone()
            # The environment steps in parts (one in-process; two with double buffering: part k steps while
            # the policy acts for the other), each part's step waited for just before its next action.
            with autocast(device, precision):  # one context: bf16 weight copies are made once per rollout
                for t in range(steps + 1):
                    for k, part in enumerate(parts):
                        t0 = time.perf_counter()
                        if t > 0:  # the part's step of t - 1
                            done, finished = env.step_wait(k)
                            episodes.extend(e for e in finished if not e.warmup)
                            rewards[t - 1, part] = upload(f"rewards{k}", env.step_rewards[part])
                            dones[t - 1, part] = upload(f"dones{k}", done)
                            next_reset[part] = dones[t - 1, part]
                            next_obs[part] = policy.prepare(upload(f"obs{k}", env.obs[part]))
                        t1 = time.perf_counter()
                        timing["env"] += t1 - t0
                        if t == steps:
                            continue
                        obs_buf[t, part] = next_obs[part]
                        resets[t, part] = next_reset[part]
                        with torch.no_grad():
                            out_td, new_state = policy(
                                next_obs[part].unsqueeze(1), next_reset[part].unsqueeze(1), state[part]
                            )
                            action = sample_actions(out_td["logits"], gen if device.type == "cpu" else None)
                            logp, _ = logprob_entropy(out_td["logits"], action)
                        if len(parts) == 1:
                            state = new_state
                        else:
                            state[part] = new_state
                        actions[t, part], logprobs[t, part], values[t, part] = action, logp, out_td["value"]
                        env.step_async(action.cpu().numpy(), k)
                        timing["infer"] += time.perf_counter() - t1
            global_step += steps * rows
            seg = slice(0, steps)

            # ---- advantages ------------------------------------------------------------------------
            t0 = time.perf_counter()
            with torch.no_grad(), autocast(device, precision):
                boot, _ = policy(next_obs.unsqueeze(1), next_reset.unsqueeze(1), state)
                advantages, returns = compute_gae(
                    rewards[seg], values[seg], dones[seg], boot["value"], cfg.gamma, cfg.gae_lambda
                )

            # ---- update: minibatches of whole row-segments ------------------------------------------
            if cfg.anneal_lr:
                for group in optimizer.param_groups:
                    group["lr"] = lr * max(0.0, 1.0 - (global_step - steps * rows) / cfg.timesteps)
            update_stats: dict[str, list[torch.Tensor]] = {}
            for _ in range(int(settings["epochs"])):
                perm = torch.randperm(rows, generator=gen).to(device)
                for mb in perm.chunk(minibatches):
                    seq_obs = obs_buf[seg, mb].transpose(0, 1)  # [B, T, ...]
                    with autocast(device, precision):
                        out_td, _ = policy(seq_obs, resets[seg, mb].transpose(0, 1), segment_state[mb])

                    def flat(x: torch.Tensor, mb: torch.Tensor = mb, seg: slice = seg) -> torch.Tensor:  # -> [B*T]
                        return x[seg, mb].transpose(0, 1).reshape(-1)

                    new_logp, entropy = logprob_entropy(out_td["logits"], flat(actions))
                    loss, stats = ppo_loss(
                        new_logp,
                        flat(logprobs),
                        flat(advantages),
                        out_td["value"],
                        flat(values),
                        flat(returns),
                        entropy,
                        clip=cfg.clip,
                        value_clip=cfg.value_clip,
                        value_coef=cfg.value_coef,
                        entropy_coef=settings["entropy_coef"],
                        normalize_advantages=cfg.normalize_advantages,
                    )
                    aux = policy.aux_loss(out_td, flat(rewards), flat(returns))
                    if aux is not None:
                        loss = loss + aux
                        stats["aux_loss"] = aux.detach()
                    if not torch.isfinite(loss):
                        raise NonFiniteLoss(f"non-finite loss at agent step {global_step} (update {update})")
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    stats["grad_norm"] = torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
                    optimizer.step()
                    for k, v in stats.items():
                        update_stats.setdefault(k, []).append(v.detach().float())
            # logged statistics are means over every minibatch of the update, not the last one's
            stats = {k: torch.stack(v).mean() for k, v in update_stats.items()}
            update += 1
            timing["learn"] += time.perf_counter() - t0
            # the mean step reward of the rollout x the episode length estimates the return per agent, since
            # staggered starts spread the rows evenly over the episode
            rollout_reward = float(rewards[seg].float().mean()) * level.max_steps
            if cfg.stop_collapsed:
                stopped_early = watch.observe(global_step, float(stats["entropy"]), rollout_reward)

            # ---- logging and checkpoints ------------------------------------------------------------
            now = time.time()
            if now - last_log >= cfg.log_seconds or global_step >= cfg.timesteps or stopped_early:
                line = {
                    "agent_steps": global_step,
                    "update": update,
                    "wall_seconds": round(now - start, 3),
                    "sps": round((global_step - steps_at_log) / max(now - last_log, 1e-9), 1),
                    "learning_rate": optimizer.param_groups[0]["lr"],
                    **{k: round(float(v), 6) for k, v in stats.items()},
                    **{f"time_{k}": round(v, 3) for k, v in timing.items()},
                }
                # every update has a point on the learning curve, finished episodes or not (a short run may
                # finish none: each simulation's first episode is a shortened warm-up)
                line["rollout_reward_per_agent"] = round(rollout_reward, 6)
                if episodes:
                    line["episodes"] = len(episodes)
                    line["reward_per_agent"] = float(np.mean([e.reward_per_agent for e in episodes]))
                    line["hearts_per_agent"] = float(np.mean([e.hearts_per_agent for e in episodes]))
                metrics_file.write(json.dumps(line) + "\n")
                metrics_file.flush()
                tracker.log(line, step=global_step)
                if progress is not None:  # the total is what will be trained: whole steps of every row
                    progress(global_step, -(-cfg.timesteps // rows) * rows, line)
                episodes = []
                last_log, steps_at_log = now, global_step
            if now - last_ckpt >= cfg.checkpoint_seconds:
                checkpoint()
                last_ckpt = now
            for percent in cfg.snapshots:  # the checkpoints the controller evaluates at fractions of the budget
                snapshot = out / f"at{percent}" / CHECKPOINT
                if global_step >= cfg.timesteps * percent / 100 and not snapshot.exists():
                    snapshot.parent.mkdir(exist_ok=True)
                    checkpoint(snapshot)
            if stopped_early:
                break
        checkpoint()
        for percent in cfg.snapshots:  # stopped early: the policy it stopped with is its policy at every later point
            snapshot = out / f"at{percent}" / CHECKPOINT
            if not snapshot.exists():
                snapshot.parent.mkdir(exist_ok=True)
                checkpoint(snapshot)
    except BaseException:
        tracker.finish(exit_code=1)
        raise
    finally:
        metrics_file.close()
        env.close()

    wall = time.time() - start
    result = TrainResult(
        agent_steps=global_step,
        wall_seconds=wall,
        sps=(global_step - resumed_from) / max(wall, 1e-9),
        parameters=parameters,
        checkpoint=ckpt_path,
        resumed_from=resumed_from,
        stopped_early=stopped_early,
    )
    tracker.summary({"agent_steps": global_step, "sps": result.sps, "wall_seconds": wall})
    tracker.finish()
    atomic_write_json(
        out / SUMMARY,
        {
            "level": cfg.level,
            "architecture": cfg.architecture,
            "seed": cfg.seed,
            "agent_steps": result.agent_steps,
            "timesteps_requested": cfg.timesteps,
            "settings": settings,
            "wall_seconds": round(wall, 3),
            "sps": round(result.sps, 1),
            "parameters": parameters,
            "checkpoint": str(ckpt_path),
            "resumed_from": resumed_from,
            "device": device.type,
            "precision": str(precision).removeprefix("torch."),
            "threads": torch.get_num_threads(),
            "env_workers": workers,
            "double_buffer": len(parts) > 1,
            "timing": timing,
            "wandb": tracker.location(),
            "stopped_early": stopped_early,
        },
    )
    return result
