"""Lambda-returns (DIAMOND's eq. for the actor-critic targets; Sutton & Barto, ch. 12)."""

from __future__ import annotations

from torch import Tensor


def lambda_returns(rewards: Tensor, values: Tensor, ends: Tensor, gamma: float, lambda_: float) -> Tensor:
    """``G_t = r_t + gamma * (1 - d_t) * ((1 - lambda) * V_{t+1} + lambda * G_{t+1})``, ``G_T = V_T``.

    ``rewards`` and ``ends`` are ``(B, T)``: the reward of step ``t`` and whether it ended the episode
    (bool, or the probability that it did);
    ``values`` is ``(B, T + 1)``, the value of each visited state and of the state after the last step
    (the bootstrap). An ended step neither bootstraps nor looks further. Returns ``(B, T)``.
    """
    assert rewards.shape == ends.shape and values.shape[:-1] == rewards.shape[:-1] and values.shape[-1] == rewards.shape[-1] + 1
    not_end = 1.0 - ends.float()
    returns = rewards.new_empty(rewards.shape)
    next_return = values[:, -1]
    for t in reversed(range(rewards.shape[1])):
        next_return = rewards[:, t] + gamma * not_end[:, t] * ((1 - lambda_) * values[:, t + 1] + lambda_ * next_return)
        returns[:, t] = next_return
    return returns
