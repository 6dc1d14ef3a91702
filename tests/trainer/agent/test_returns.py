"""Lambda-returns against a hand-worked example with a termination in the middle."""

from __future__ import annotations

import pytest
import torch

from trainer.agent.returns import lambda_returns


def test_lambda_returns_by_hand_with_a_termination() -> None:
    gamma, lam = 0.5, 0.5
    rewards = torch.tensor([[1.0, 0.0, 2.0, 1.0]])
    ends = torch.tensor([[False, True, False, False]])
    values = torch.tensor([[10.0, 20.0, 4.0, 8.0, 6.0]])  # V(s_0..s_3) and the bootstrap V(s_4)
    # Worked backwards: G_3 = 1 + 0.5 * (0.5 * 6 + 0.5 * 6) = 4
    #                   G_2 = 2 + 0.5 * (0.5 * 8 + 0.5 * 4) = 5
    #                   G_1 = 0 (step 1 ends the episode: nothing after it counts)
    #                   G_0 = 1 + 0.5 * (0.5 * 20 + 0.5 * 0) = 6
    expected = torch.tensor([[6.0, 0.0, 5.0, 4.0]])
    torch.testing.assert_close(lambda_returns(rewards, values, ends, gamma, lam), expected)


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_lambda_returns_limits(lam: float) -> None:
    """lambda 0: one-step TD targets; lambda 1: discounted Monte-Carlo returns plus the discounted bootstrap."""
    torch.manual_seed(0)
    gamma = 0.9
    rewards, values = torch.randn(3, 6), torch.randn(3, 7)
    ends = torch.zeros(3, 6, dtype=torch.bool)
    got = lambda_returns(rewards, values, ends, gamma, lam)
    if lam == 0.0:
        expected = rewards + gamma * values[:, 1:]
    else:
        expected = torch.stack([sum(gamma**k * rewards[:, t + k] for k in range(6 - t)) + gamma ** (6 - t) * values[:, -1] for t in range(6)], 1)
    torch.testing.assert_close(got, expected)
