"""Training the actor-critic in imagination (DIAMOND s3.3, REFERENCE.md s3).

A batch of real contexts (``n`` frames and the ``n - 1`` actions between them) starts a ``DreamEnv``
and burns in the agent's LSTM; the agent then acts for ``horizon`` imagined steps. The world model is
not trained here (its samples carry no gradient); the agent learns by REINFORCE with a value baseline
on lambda-returns, plus an entropy bonus. Not in DIAMOND (``ImaginationConfig.epochs``): PPO's reuse of each
batch (Schulman et al. 2017, eq. 7), several passes over the states a rollout recorded, with the clipped
probability ratio, where the world model's samples cost far more than the agent's passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Categorical
from torch.nn import functional as F

from jedi_play.dream.dream_env import DreamEnv
from jedi_play.models.actor_critic import ActorCritic, LSTMState
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
    # Not in DIAMOND (PPO): passes of the actor-critic's updates over each rollout (1: DIAMOND's one update),
    # the later ones with the probability ratio clipped to 1 +- ``clip`` (``actor_critic_loss(played=...)``).
    epochs: int = 1
    clip: float = 0.2
    # Not in DIAMOND (PPO): each pass split into this many minibatches of games, one optimizer step each.
    minibatches: int = 1


@dataclass
class Rollout:
    """One imagined batch: ``T = horizon`` steps of ``B`` games."""

    log_probs: Tensor  # (B, T) of the actions taken
    entropy: Tensor  # (B, T) of the policy
    values: Tensor  # (B, T + 1): each visited state's value and the bootstrap
    rewards: Tensor  # (B, T) predicted reward signs (or their expectations)
    ends: Tensor  # (B, T) predicted terminations: bool, or float probabilities
    restarts: bool = False  # real games start again after an end, so every step is taken
    # what ``replay`` needs to run the agent again on the same games (recorded by ``imagine`` and real rollouts)
    states: Tensor | None = None  # (B, T + 1, C, h, w) the agent's input at each step, and after the last
    actions: Tensor | None = None  # (B, T)
    start_lstm: LSTMState | None = None  # the agent's LSTM state before the first step

    @property
    def weights(self) -> Tensor:
        """(B, T): the probability that the game is still on when step ``t`` is taken.

        With drawn ends: 1 up to the first end (that step included), 0 after it; all 1 with ``restarts``.
        """
        if self.restarts:
            return torch.ones_like(self.rewards)
        alive = (1.0 - self.ends.float()).cumprod(1)
        return torch.cat([torch.ones_like(alive[:, :1]), alive[:, :-1]], dim=1)

    def games(self, index: Tensor) -> Rollout:
        """The games ``index`` (a 1-D index tensor) picks, whole: one of PPO's minibatches."""
        pick = lambda x: None if x is None else x[index]  # noqa: E731
        start = None if self.start_lstm is None else (self.start_lstm[0][index], self.start_lstm[1][index])
        return Rollout(
            self.log_probs[index], self.entropy[index], self.values[index], self.rewards[index], self.ends[index], self.restarts,
            pick(self.states), pick(self.actions), start,
        )


def imagine(dream: DreamEnv, agent: ActorCritic, frames: Tensor, actions: Tensor, horizon: int) -> Rollout:
    """Roll the agent out in ``dream`` from real context ``frames`` (B, n, H, W, 3) uint8 and ``actions`` (B, n - 1)."""
    states = dream.reset_states(frames, actions)  # (B, n, C, h, w)
    with torch.no_grad():
        lstm = agent.burn_in(states[:, :-1])
    start_lstm = lstm
    log_probs, entropy, values, rewards, ends, visited, taken = [], [], [], [], [], [], []
    state = states[:, -1]
    for _ in range(horizon):
        logits, value, lstm = agent(state, lstm)
        policy = Categorical(logits=logits)
        action = policy.sample()
        log_probs.append(policy.log_prob(action))
        entropy.append(policy.entropy())
        values.append(value)
        visited.append(state)
        taken.append(action)
        state, reward, end = dream.step_states(action)
        rewards.append(reward)
        ends.append(end)
    _, value, _ = agent(state, lstm)
    values.append(value)
    visited.append(state)
    stack = lambda xs: torch.stack(xs, dim=1)  # noqa: E731
    return Rollout(
        stack(log_probs), stack(entropy), stack(values), stack(rewards), stack(ends),
        states=stack(visited), actions=stack(taken), start_lstm=start_lstm,
    )


def replay(agent: ActorCritic, played: Rollout) -> Rollout:
    """The agent's log-probabilities, entropies and values on the states and actions ``played`` recorded (its
    rewards and ends): PPO's passes over one batch. A real game's LSTM row is zeroed after it ends, as when played."""
    assert played.states is not None and played.actions is not None, "replay needs a rollout that recorded its states"
    lstm = played.start_lstm
    log_probs, entropy, values = [], [], []
    for t in range(played.actions.shape[1]):
        logits, value, lstm = agent(played.states[:, t], lstm)
        log_p = F.log_softmax(logits, -1)
        log_probs.append(log_p.gather(1, played.actions[:, t, None]).squeeze(1))
        entropy.append(-(log_p.exp() * log_p).sum(-1))
        values.append(value)
        if played.restarts:
            keep = 1.0 - played.ends[:, t, None].float()
            lstm = (lstm[0] * keep, lstm[1] * keep)
    _, value, _ = agent(played.states[:, -1], lstm)
    values.append(value)
    stack = lambda xs: torch.stack(xs, dim=1)  # noqa: E731
    return Rollout(stack(log_probs), stack(entropy), stack(values), played.rewards, played.ends, played.restarts)


def actor_critic_loss(rollout: Rollout, cfg: ImaginationConfig, played: Rollout | None = None) -> tuple[Tensor, dict[str, float]]:
    """REINFORCE with a value baseline on lambda-returns, an entropy bonus, and the value regression.

    With ``played`` (PPO's later passes: ``rollout`` is ``replay(agent, played)``), the returns and advantages
    are those of the values as the batch was played, and the policy term is PPO's clipped surrogate (eq. 7);
    on the first pass its gradient is REINFORCE's.
    """
    source = played if played is not None else rollout
    returns = lambda_returns(source.rewards, source.values.detach(), source.ends, cfg.gamma, cfg.lambda_)
    w = rollout.weights
    mean = lambda x: (x * w).sum() / w.sum()  # noqa: E731  (over the steps taken, each by its chance of being taken)
    values = rollout.values[:, :-1]
    advantage = (returns - source.values[:, :-1]).detach()
    if cfg.normalize_advantages:
        centred = advantage - mean(advantage)
        advantage = centred / (mean(centred.pow(2)).sqrt() + 1e-8)
    clipped = None
    if played is None:
        policy_loss = mean(-rollout.log_probs * advantage)
    else:
        ratio = (rollout.log_probs - played.log_probs.detach()).exp()
        policy_loss = mean(-torch.min(ratio * advantage, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * advantage))
        clipped = mean(((ratio - 1).abs() > cfg.clip).float()).item()
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
    if clipped is not None:
        metrics["clip_fraction"] = clipped
    return loss, metrics


def replayed_loss(agent: ActorCritic, played: Rollout, cfg: ImaginationConfig) -> tuple[Tensor, dict[str, float]]:
    """One PPO pass over a batch ``played`` without gradients: ``actor_critic_loss`` of its ``replay``."""
    return actor_critic_loss(replay(agent, played), cfg, played)


def batch_updates(
    cfg: ImaginationConfig,
    loss: Callable[[Rollout | None], tuple[Tensor, dict[str, float]]],
    play: Callable[[], Rollout],
    step: Callable[[Tensor], None],
) -> dict[str, float]:
    """The optimizer steps (``step(loss)``) of one batch of games; returns their mean metrics.

    ``loss(None)`` plays the batch with gradients and gives DIAMOND's loss (one step); with ``cfg.epochs > 1``
    or ``cfg.minibatches > 1`` the batch is played once without them (``play()``), and each of the ``epochs``
    passes shuffles its games into ``minibatches`` parts and takes a step on each, ``loss(part)``: PPO's
    passes (``replayed_loss``).
    """
    if cfg.epochs == 1 and cfg.minibatches == 1:
        value, metrics = loss(None)
        step(value)
        return metrics
    with torch.no_grad():
        played = play()
    batch = played.rewards.shape[0]
    assert cfg.minibatches <= batch, f"{cfg.minibatches} minibatches of {batch} games"
    rows = []
    for _ in range(cfg.epochs):
        for part in torch.randperm(batch).chunk(cfg.minibatches) if cfg.minibatches > 1 else [None]:
            value, metrics = loss(played if part is None else played.games(part))
            step(value)
            rows.append(metrics)
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
