"""``measure_fidelity``'s reward figures, on stand-in world models whose dreams are exactly right or frozen."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jedi_play.data import Episode
from jedi_play.models.reward_end import RewardEndConfig, RewardEndModel
from jedi_play.models.world_model import WorldModel
from trainer.eval.fidelity import measure_fidelity, reconstruction_figures

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


@pytest.mark.parametrize("oracle", [True, False])
def test_open_loop_outcomes_of_an_exact_and_a_frozen_dream(oracle: bool) -> None:
    result = measure_fidelity(CountingWorld(oracle), [counting_episode()], stride=3, batch_size=4, progress=False)  # type: ignore[arg-type]
    rewards = result["outcomes"]["rewards"]
    assert rewards["real_events"] > 0
    if oracle:
        assert rewards["recall"] == 1.0 and rewards["precision"] == 1.0
    else:  # frozen on a frame: rewarded on every step or on none
        assert rewards["recall"] < 0.5 or rewards["precision"] < 0.5
    assert set(result["moving_psnr"]) == {"1", "5", "15"}


def ball_episode() -> Episode:
    """A black screen crossed by a one-pixel ball, one pixel a step, and a still white wall."""
    frames = np.zeros((LENGTH + 1, 8, 8, 3), np.uint8)
    frames[:, :, 7] = 255  # the wall
    for t in range(LENGTH + 1):
        frames[t, 3, t % 7] = (200, 72, 72)
    ends = np.zeros(LENGTH, bool)
    return Episode(frames=frames, actions=np.zeros(LENGTH, np.int64), rewards=np.zeros(LENGTH, np.float32), terminated=ends, truncated=ends, life_loss=ends)


class RoundTrip(torch.nn.Module):
    """A world model whose encoder/decoder round trip is exact, or loses the ball (``loses_ball``)."""

    def __init__(self, loses_ball: bool) -> None:
        super().__init__()
        self.loses_ball = loses_ball
        self.decoder = torch.nn.Identity()
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def to_states(self, frames: torch.Tensor) -> torch.Tensor:
        return frames

    def to_frames(self, states: torch.Tensor) -> torch.Tensor:
        if not self.loses_ball:
            return states
        out = torch.zeros_like(states)
        out[..., :, 7, :] = 255
        return out


@pytest.mark.parametrize("loses_ball", [False, True])
def test_reconstruction_counts_the_ball_it_loses(loses_ball: bool) -> None:
    episodes = [ball_episode(), ball_episode()]
    figures = reconstruction_figures(RoundTrip(loses_ball), episodes, batch=16)  # batches split the episodes
    assert figures["passing_pixels"] == 2 * (LENGTH - 1)  # the ball's pixel on every frame with two neighbours
    assert figures["passing_pixels_reproduced"] == (0.0 if loses_ball else 1.0)
    # frame-wide PSNR still calls the lossy round trip good: one pixel of 64 differs
    assert figures["psnr"] > 20 and (loses_ball or figures["psnr"] == float("inf"))
