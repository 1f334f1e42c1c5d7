"""PPO numerics as pure functions, each unit-tested against a naive loop."""

from __future__ import annotations

import torch


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_value: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over [T, N] tensors.

    `dones[t]` is True when the transition taken at step t ended its episode: nothing after it
    bootstraps into step t. Returns (advantages, returns), both [T, N].
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(last_value)
    not_done = 1.0 - dones.float()
    for t in reversed(range(steps)):
        next_value = last_value if t == steps - 1 else values[t + 1]
        delta = rewards[t] + gamma * next_value * not_done[t] - values[t]
        last = delta + gamma * lam * not_done[t] * last
        advantages[t] = last
    return advantages, advantages + values


def ppo_loss(
    new_logprob: torch.Tensor,
    old_logprob: torch.Tensor,
    advantages: torch.Tensor,
    new_value: torch.Tensor,
    old_value: torch.Tensor,
    returns: torch.Tensor,
    entropy: torch.Tensor,
    *,
    clip: float,
    value_clip: float,
    value_coef: float,
    entropy_coef: float,
    normalize_advantages: bool = True,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped policy loss + clipped value loss - entropy bonus; returns (loss, detached stats)."""
    if normalize_advantages and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_ratio = new_logprob - old_logprob
    ratio = log_ratio.exp()
    pg_loss = torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - clip, 1 + clip)).mean()
    v_unclipped = (new_value - returns) ** 2
    v_clipped = (old_value + (new_value - old_value).clamp(-value_clip, value_clip) - returns) ** 2
    v_loss = 0.5 * torch.max(v_unclipped, v_clipped).mean()
    ent = entropy.mean()
    loss = pg_loss + value_coef * v_loss - entropy_coef * ent
    with torch.no_grad():
        stats = {
            "policy_loss": pg_loss.detach(),
            "value_loss": v_loss.detach(),
            "entropy": ent.detach(),
            "approx_kl": ((ratio - 1) - log_ratio).mean(),
            "clip_frac": ((ratio - 1.0).abs() > clip).float().mean(),
        }
    return loss, stats


def sample_actions(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Gumbel-max sampling: one draw per row from softmax(logits), reproducible with `generator`."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(1e-10, 1.0)
    return torch.argmax(logits - torch.log(-torch.log(u)), dim=-1)


def logprob_entropy(logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logp = torch.log_softmax(logits, dim=-1)
    chosen = logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
    return chosen, entropy
