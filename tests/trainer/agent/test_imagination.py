"""The actor-critic's training in imagination: gradients reach only the agent, and it learns a rewarded action
(by DIAMOND's one update a batch, or by PPO's passes over it)."""

from __future__ import annotations

import pytest
import torch

from jedi_play.dream.dream_env import DreamEnv
from jedi_play.models.actor_critic import ActorCritic, ActorCriticConfig
from jedi_play.models.factory import build_world_model
from trainer.agent.imagination import (
    ImaginationConfig,
    Rollout,
    actor_critic_loss,
    batch_updates,
    imagine,
    replay,
    replayed_loss,
)


class BanditDream:
    """A stand-in dream with DreamEnv's tensor interface: reward +1 for action 2, else 0; never ends.

    ``expected``: the outcomes are means, as with ``DreamEnv(outcomes="expected")``: action 2 is rewarded
    0.5 on average, and action 1 ends the game with probability 0.5 (float ends).
    """

    def __init__(self, n: int = 4, expected: bool = False) -> None:
        self.n = n
        self.expected = expected

    def reset_states(self, frames: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        self.b = frames.shape[0]
        return torch.zeros(self.b, self.n, 3, 8, 8)

    def step_states(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.expected:
            return torch.zeros(self.b, 3, 8, 8), 0.5 * (actions == 2).float(), 0.5 * (actions == 1).float()
        return torch.zeros(self.b, 3, 8, 8), (actions == 2).float(), torch.zeros(self.b, dtype=torch.bool)


@pytest.mark.parametrize("expected", [False, True])
def test_agent_learns_the_rewarded_action_in_imagination(expected: bool) -> None:
    torch.manual_seed(0)
    agent = ActorCritic(ActorCriticConfig(4, in_channels=3, size=8, channels=(8,), lstm_dim=32))
    optimizer = torch.optim.Adam(agent.parameters(), lr=3e-3)
    cfg = ImaginationConfig(horizon=5)
    frames, actions = torch.zeros(16, 4, 64, 64, 3, dtype=torch.uint8), torch.zeros(16, 3, dtype=torch.long)
    dream = BanditDream(expected=expected)
    for _ in range(150):
        loss, metrics = actor_critic_loss(imagine(dream, agent, frames, actions, cfg.horizon), cfg)  # type: ignore[arg-type]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    logits, value, _ = agent(torch.zeros(1, 3, 8, 8))
    scale = 0.5 if expected else 1.0
    assert torch.softmax(logits, -1)[0, 2] > 0.9  # started at 0.25
    assert metrics["imagined_return"] > 4.0 * scale  # out of 5 * scale
    assert value.item() > 1.0 * scale  # the critic learned that rewards come


def test_rollout_weights_stop_after_the_first_end() -> None:
    ends = torch.tensor([[False, True, False, True], [False, False, False, False]])
    r = Rollout(torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(2, 5), torch.zeros(2, 4), ends)
    assert r.weights.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]


def test_rollout_weights_of_end_probabilities_are_the_chance_of_still_playing() -> None:
    ends = torch.tensor([[0.5, 0.5, 1.0, 0.2]])
    r = Rollout(torch.zeros(1, 4), torch.zeros(1, 4), torch.zeros(1, 5), torch.zeros(1, 4), ends)
    torch.testing.assert_close(r.weights, torch.tensor([[1.0, 0.5, 0.25, 0.0]]))


def _policy_gradient(rewards: torch.Tensor, values: torch.Tensor, ends: torch.Tensor, normalize: bool) -> torch.Tensor:
    """d(loss)/d(log_probs) of ``actor_critic_loss`` on a rollout with these outcomes (no entropy)."""
    log_probs = torch.zeros_like(rewards, requires_grad=True)
    rollout = Rollout(log_probs, torch.zeros_like(rewards), values, rewards, ends)
    loss, _ = actor_critic_loss(rollout, ImaginationConfig(entropy_weight=0.0, normalize_advantages=normalize))
    loss.backward()
    assert log_probs.grad is not None
    return log_probs.grad


def test_normalized_advantages_have_zero_mean_and_unit_std_over_the_steps_taken() -> None:
    torch.manual_seed(0)
    rewards, values = 0.01 * torch.randn(3, 5), 0.01 * torch.randn(3, 6)  # sparse-reward scale
    ends = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0], [0.0] * 5, [0.0, 0.5, 0.0, 0.0, 0.0]])
    w = Rollout(rewards, rewards, values, rewards, ends).weights
    grad = _policy_gradient(rewards, values, ends, normalize=True)
    taken = w > 0
    advantage = -grad[taken] * w.sum() / w[taken]  # the loss is the w-weighted mean of -log_prob * advantage
    weights = w[taken] / w.sum()
    torch.testing.assert_close((weights * advantage).sum(), torch.tensor(0.0), atol=1e-5, rtol=0)
    torch.testing.assert_close((weights * advantage.pow(2)).sum(), torch.tensor(1.0))
    assert (grad[~taken] == 0).all()  # steps after a certain end still count for nothing
    # the same policy gradient whatever the rewards' scale; without normalisation it scales with them
    torch.testing.assert_close(_policy_gradient(100 * rewards, 100 * values, ends, normalize=True), grad)
    raw = _policy_gradient(rewards, values, ends, normalize=False)
    torch.testing.assert_close(_policy_gradient(100 * rewards, 100 * values, ends, normalize=False), 100 * raw)


def test_imagination_in_a_world_model_trains_only_the_agent() -> None:
    torch.manual_seed(0)
    world_model = build_world_model("jedi", {"num_actions": 4, "denoiser_channels": (32,), "reward_end_channels": (8, 8), "reward_end_lstm": 16})
    agent = ActorCritic(ActorCriticConfig.for_world_model(world_model, 4))
    for head in (agent.policy_head, agent.value_head):  # away from the zero init, so every loss term has a gradient
        torch.nn.init.normal_(head.weight, std=0.1)
    frames = torch.randint(0, 256, (2, world_model.num_cond_steps, 64, 64, 3), dtype=torch.uint8)
    actions = torch.randint(0, 4, (2, world_model.num_cond_steps - 1))
    rollout = imagine(DreamEnv(world_model), agent, frames, actions, horizon=3)
    assert rollout.values.shape == (2, 4) and rollout.log_probs.shape == (2, 3)
    loss, _ = actor_critic_loss(rollout, ImaginationConfig(horizon=3))
    loss.backward()
    assert all(p.grad is None for p in world_model.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.parameters())


def _bandit_agent(randomize_heads: bool = False) -> ActorCritic:
    agent = ActorCritic(ActorCriticConfig(4, in_channels=3, size=8, channels=(8,), lstm_dim=32))
    if randomize_heads:  # away from the zero init, so the policy is not uniform and every loss term has a gradient
        for head in (agent.policy_head, agent.value_head):
            torch.nn.init.normal_(head.weight, std=0.5)
    return agent


def _bandit_batch(b: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(b, 4, 64, 64, 3, dtype=torch.uint8), torch.zeros(b, 3, dtype=torch.long)


def test_replay_gives_back_the_numbers_of_the_games_as_played() -> None:
    torch.manual_seed(0)
    agent = _bandit_agent(randomize_heads=True)
    with torch.no_grad():
        played = imagine(BanditDream(expected=True), agent, *_bandit_batch(), horizon=5)  # type: ignore[arg-type]
    assert played.states is not None and played.states.shape == (16, 6, 3, 8, 8) and played.actions is not None
    assert len(played.actions.unique()) > 1  # a policy far from one action: the log-probs differ from step to step
    again = replay(agent, played)
    for name in ("log_probs", "entropy", "values"):
        torch.testing.assert_close(getattr(again, name), getattr(played, name))
    assert again.rewards is played.rewards and again.ends is played.ends


def _grads(agent: ActorCritic, loss: torch.Tensor) -> list[torch.Tensor]:
    agent.zero_grad(set_to_none=True)
    loss.backward()
    return [p.grad.clone() for p in agent.parameters() if p.grad is not None]


@pytest.mark.parametrize("normalize", [False, True])
def test_the_first_ppo_pass_has_the_gradient_of_diamonds_update(normalize: bool) -> None:
    torch.manual_seed(1)
    agent = _bandit_agent(randomize_heads=True)
    cfg = ImaginationConfig(horizon=5, normalize_advantages=normalize)
    played = imagine(BanditDream(expected=True), agent, *_bandit_batch(), horizon=5)  # type: ignore[arg-type]
    reinforce = _grads(agent, actor_critic_loss(played, cfg)[0])
    loss, metrics = replayed_loss(agent, played, cfg)
    assert metrics["clip_fraction"] == 0.0
    ppo = _grads(agent, loss)
    assert len(ppo) == len(reinforce) == len(list(agent.parameters()))
    for a, b in zip(ppo, reinforce, strict=True):
        torch.testing.assert_close(a, b)


def test_a_step_whose_ratio_left_the_clip_in_its_advantages_direction_is_pushed_no_further() -> None:
    played = Rollout(torch.zeros(1, 3), torch.zeros(1, 3), torch.zeros(1, 4), torch.tensor([[1.0, 1.0, -1.0]]), torch.zeros(1, 3))
    log_probs = torch.tensor([[0.5, 0.1, -0.5]], requires_grad=True)  # ratios 1.65, 1.11 and 0.61 (advantage < 0)
    now = Rollout(log_probs, torch.zeros(1, 3), torch.zeros(1, 4), played.rewards, played.ends)
    loss, metrics = actor_critic_loss(now, ImaginationConfig(entropy_weight=0.0, clip=0.2), played)
    loss.backward()
    assert log_probs.grad is not None
    assert log_probs.grad[0, 0] == 0 and log_probs.grad[0, 2] == 0  # past 1 + 0.2 with A > 0, below 1 - 0.2 with A < 0
    assert log_probs.grad[0, 1] < 0  # inside the clip: still pushed up
    assert metrics["clip_fraction"] == pytest.approx(2 / 3)


def test_agent_learns_the_rewarded_action_by_ppo_passes_in_fewer_batches() -> None:
    torch.manual_seed(0)
    agent = _bandit_agent()
    optimizer = torch.optim.Adam(agent.parameters(), lr=3e-3)
    cfg = ImaginationConfig(horizon=5, epochs=4)
    dream, batch, passes = BanditDream(), _bandit_batch(), []

    def step(loss: torch.Tensor) -> None:
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        passes.append(1)

    def play() -> Rollout:
        return imagine(dream, agent, *batch, cfg.horizon)  # type: ignore[arg-type]

    for _ in range(40):  # DIAMOND's one update a batch needs 150 batches above
        metrics = batch_updates(cfg, lambda played: replayed_loss(agent, played, cfg) if played is not None else actor_critic_loss(play(), cfg), play, step)
    logits, _, _ = agent(torch.zeros(1, 3, 8, 8))
    assert len(passes) == 160 and "clip_fraction" in metrics
    assert torch.softmax(logits, -1)[0, 2] > 0.9


def test_minibatches_split_each_pass_into_disjoint_shares_of_the_games() -> None:
    torch.manual_seed(0)
    agent = _bandit_agent(randomize_heads=True)
    cfg = ImaginationConfig(horizon=5, epochs=2, minibatches=4)
    with torch.no_grad():
        played = imagine(BanditDream(), agent, *_bandit_batch(), horizon=5)  # type: ignore[arg-type]
    played.rewards = torch.arange(16.0)[:, None].expand(16, 5)  # each game's reward names it
    seen: list[list[int]] = []

    def loss(part: Rollout | None) -> tuple[torch.Tensor, dict[str, float]]:
        assert part is not None and part.states is not None and part.actions is not None and part.start_lstm is not None
        games = part.rewards[:, 0].long()
        assert part.states.shape == (4, 6, 3, 8, 8) and part.start_lstm[0].shape == (4, 32)
        torch.testing.assert_close(part.states, played.states[games])  # type: ignore[index]
        torch.testing.assert_close(part.start_lstm[1], played.start_lstm[1][games])  # type: ignore[index]
        torch.testing.assert_close(part.log_probs, played.log_probs[games])
        seen.append(games.tolist())
        return replayed_loss(agent, part, cfg)

    batch_updates(cfg, loss, lambda: played, lambda value: None)
    assert len(seen) == 8  # 2 passes of 4 optimizer steps
    for one_pass in (seen[:4], seen[4:]):
        assert sorted(sum(one_pass, [])) == list(range(16))  # every game once a pass
    assert seen[:4] != seen[4:]  # shuffled anew each pass
