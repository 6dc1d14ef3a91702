"""``measure_fidelity``'s reward figures, on stand-in world models whose dreams are exactly right or frozen."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jedi_play.data import Episode
from jedi_play.models.reward_end import RewardEndConfig, RewardEndModel
from jedi_play.models.world_model import WorldModel
from trainer.eval.fidelity import measure_fidelity

LENGTH = 60


def counting_episode() -> Episode:
    """Frame t is filled with the value t; the step into frame t is rewarded +1 when t is a multiple of 5."""
    frames = np.stack([np.full((8, 8, 3), t, np.uint8) for t in range(LENGTH + 1)])
    rewards = np.array([1.0 if (t + 1) % 5 == 0 else 0.0 for t in range(LENGTH)], np.float32)
    ends = np.zeros(LENGTH, bool)
    return Episode(frames=frames, actions=np.zeros(LENGTH, np.int64), rewards=rewards, terminated=ends, truncated=ends, life_loss=ends)


class CountingRewards(torch.nn.Module):
    """The exact reward model of ``counting_episode``, read from the next state (the default alignment)."""

    cfg = RewardEndConfig(1, 1)
    window_inputs = RewardEndModel.window_inputs
    step_inputs = RewardEndModel.step_inputs

    def forward(self, x: torch.Tensor, actions: torch.Tensor, next_x: torch.Tensor, state: object = None) -> tuple:
        rewarded = next_x.flatten(2)[..., 0] % 5 == 0  # (B, T)
        reward_logits = torch.where(rewarded[..., None], torch.tensor([-9.0, -9.0, 9.0]), torch.tensor([-9.0, 9.0, -9.0]))
        return reward_logits, torch.zeros(*rewarded.shape, 2), state


class CountingWorld(torch.nn.Module):
    """A world model of ``counting_episode``: its state is the frame's value; its reward model is exact.

    ``oracle``: the dream counts on (it is the real game); otherwise the dream freezes on the last frame.
    """

    num_cond_steps = 4
    reward_window_inputs = WorldModel.reward_window_inputs  # what the reward model reads: the default
    reward_step_inputs = WorldModel.reward_step_inputs

    def __init__(self, oracle: bool) -> None:
        super().__init__()
        self.oracle = oracle
        self.unused = torch.nn.Parameter(torch.zeros(1))  # the device is read from the parameters
        self.reward_end = CountingRewards()

    def to_states(self, frames: torch.Tensor) -> torch.Tensor:
        return frames[..., :1, :1, :1].float().movedim(-1, -3)  # (B, T, 1, 1, 1)

    def to_frames(self, states: torch.Tensor) -> torch.Tensor:
        return states.movedim(-3, -1).expand(-1, 8, 8, 3).to(torch.uint8)

    def sample_next(self, states: torch.Tensor, actions: torch.Tensor, steps: int | None = None) -> tuple[torch.Tensor, None]:
        return (states[:, -1] + 1 if self.oracle else states[:, -1]), None


@pytest.mark.parametrize("oracle", [True, False])
def test_reward_figures_follow_the_dream(oracle: bool) -> None:
    result = measure_fidelity(CountingWorld(oracle), [counting_episode()], stride=3, batch_size=4, progress=False)  # type: ignore[arg-type]
    rewards = result["rewards"]
    assert rewards["rate_real"] == pytest.approx(0.2, abs=0.02)
    assert rewards["recall_real_frames"] == pytest.approx(1.0, abs=1e-3)  # the reward model is exact on real frames
    if oracle:
        assert rewards["recall_dream"] == pytest.approx(1.0, abs=1e-3)
        assert rewards["rate_dream"] == pytest.approx(rewards["rate_real"], abs=1e-3)
        assert result["psnr"]["15"] == float("inf")
    else:  # a frozen dream rewards every step or none, depending on the frame it froze on
        assert rewards["recall_dream"] < 0.5
        assert result["psnr"]["5"] < result["psnr"]["1"]
