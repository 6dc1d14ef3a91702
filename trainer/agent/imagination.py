"""Training the actor-critic in imagination (DIAMOND s3.3, REFERENCE.md s3).

A batch of real contexts (``n`` frames and the ``n - 1`` actions between them) starts a ``DreamEnv``
and burns in the agent's LSTM; the agent then acts for ``horizon`` imagined steps. The world model is
not trained here (its samples carry no gradient); the agent learns by REINFORCE with a value baseline
on lambda-returns, plus an entropy bonus.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Categorical

from jedi_play.dream.dream_env import DreamEnv
from jedi_play.models.actor_critic import ActorCritic
from trainer.agent.returns import lambda_returns

AGENT_GRAD_CLIP = 100.0  # DIAMOND's gradient-norm clip for the actor-critic's updates


@dataclass(frozen=True)
class ImaginationConfig:
    """DIAMOND's actor-critic hyperparameters."""

    horizon: int = 15
    gamma: float = 0.985
    lambda_: float = 0.95
    entropy_weight: float = 0.001
    # Not in DIAMOND (PPO's advantage normalisation): scale each batch's advantages to zero mean and unit
    # standard deviation, so the policy gradient does not shrink with sparse rewards against the entropy bonus.
    normalize_advantages: bool = False


@dataclass
class Rollout:
    """One imagined batch: ``T = horizon`` steps of ``B`` games."""

    log_probs: Tensor  # (B, T) of the actions taken
    entropy: Tensor  # (B, T) of the policy
    values: Tensor  # (B, T + 1): each visited state's value and the bootstrap
    rewards: Tensor  # (B, T) predicted reward signs (or their expectations)
    ends: Tensor  # (B, T) predicted terminations: bool, or float probabilities
    restarts: bool = False  # real games start again after an end, so every step is taken

    @property
    def weights(self) -> Tensor:
        """(B, T): the probability that the game is still on when step ``t`` is taken.

        With drawn ends: 1 up to the first end (that step included), 0 after it; all 1 with ``restarts``.
        """
        if self.restarts:
            return torch.ones_like(self.rewards)
        alive = (1.0 - self.ends.float()).cumprod(1)
        return torch.cat([torch.ones_like(alive[:, :1]), alive[:, :-1]], dim=1)


def imagine(dream: DreamEnv, agent: ActorCritic, frames: Tensor, actions: Tensor, horizon: int) -> Rollout:
    """Roll the agent out in ``dream`` from real context ``frames`` (B, n, H, W, 3) uint8 and ``actions`` (B, n - 1)."""
    states = dream.reset_states(frames, actions)  # (B, n, C, h, w)
    with torch.no_grad():
        lstm = agent.burn_in(states[:, :-1])
    log_probs, entropy, values, rewards, ends = [], [], [], [], []
    state = states[:, -1]
    for _ in range(horizon):
        logits, value, lstm = agent(state, lstm)
        policy = Categorical(logits=logits)
        action = policy.sample()
        log_probs.append(policy.log_prob(action))
        entropy.append(policy.entropy())
        values.append(value)
        state, reward, end = dream.step_states(action)
        rewards.append(reward)
        ends.append(end)
    _, value, _ = agent(state, lstm)
    values.append(value)
    stack = lambda xs: torch.stack(xs, dim=1)  # noqa: E731
    return Rollout(stack(log_probs), stack(entropy), stack(values), stack(rewards), stack(ends))


def actor_critic_loss(rollout: Rollout, cfg: ImaginationConfig) -> tuple[Tensor, dict[str, float]]:
    """REINFORCE with a value baseline on lambda-returns, an entropy bonus, and the value regression."""
    returns = lambda_returns(rollout.rewards, rollout.values.detach(), rollout.ends, cfg.gamma, cfg.lambda_)
    w = rollout.weights
    mean = lambda x: (x * w).sum() / w.sum()  # noqa: E731  (over the steps taken, each by its chance of being taken)
    values = rollout.values[:, :-1]
    advantage = (returns - values).detach()
    if cfg.normalize_advantages:
        centred = advantage - mean(advantage)
        advantage = centred / (mean(centred.pow(2)).sqrt() + 1e-8)
    policy_loss = mean(-rollout.log_probs * advantage)
    entropy = mean(rollout.entropy)
    value_loss = mean((values - returns).pow(2))
    loss = policy_loss - cfg.entropy_weight * entropy + value_loss
    metrics = {
        "ac_loss": loss.item(),
        "policy_loss": policy_loss.item(),
        "value_loss": value_loss.item(),
        "entropy": entropy.item(),
        "imagined_return": rollout.rewards.mul(w).sum(1).mean().item(),
        "imagined_ends": (1 - (1.0 - rollout.ends.float()).prod(1)).mean().item(),
        "value": mean(values).item(),
    }
    return loss, metrics
