"""``DreamEnv``: a batch of games played inside a world model.

``reset`` takes real context (the last ``num_cond_steps`` frames and the actions taken on them) and
burns the reward/termination model's LSTM in on it; ``step`` samples the next state for each game,
and returns it as pixels with the predicted reward sign and termination. Works with either world model.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor

from jedi_play.models.reward_end import RewardEndModel
from jedi_play.models.world_model import WorldModel


class DreamEnv:
    """Batched dream: ``reset(frames, actions)`` then ``step(actions)``; all arrays are numpy."""

    def __init__(
        self, world_model: WorldModel, denoising_steps: int | None = None, outcomes: Literal["argmax", "sample", "expected"] = "argmax"
    ) -> None:
        """``outcomes``: how a step's reward sign and termination come from the model's distributions. ``argmax``
        takes the most likely ones (the app); ``sample`` draws them (DIAMOND's imagination); ``expected`` gives
        their means, ``P(+1) - P(-1)`` and ``P(end)`` as floats (imagination with less variance)."""
        if outcomes not in ("argmax", "sample", "expected"):
            raise ValueError(f"unknown outcomes {outcomes!r}")
        self.model = world_model.eval()
        self.outcomes = outcomes
        self.device = next(world_model.parameters()).device
        self.n = world_model.num_cond_steps
        self.denoising_steps = denoising_steps or world_model.sampler.steps
        self.states: Tensor | None = None  # (B, n, C, h, w)
        self.past_actions: Tensor | None = None  # (B, n - 1): the actions taken on states[:, :-1]
        self._lstm: tuple[Tensor, Tensor] | None = None
        self.generator = torch.Generator(device=self.device)
        self.generator.seed()

    def seed(self, seed: int) -> None:
        """Make the dream's sampling noise reproducible."""
        self.generator.manual_seed(seed)

    @property
    def batch_size(self) -> int:
        return 0 if self.states is None else self.states.shape[0]

    @torch.no_grad()
    def reset_states(self, frames: Tensor, actions: Tensor) -> Tensor:
        """Tensor form of ``reset``: uint8 ``frames`` (B, n, H, W, 3) on the model's device, ``actions`` (B, n - 1 or n).

        Returns the states of the context ``(B, n, C, h, w)`` (frames for DIAMOND, latents for JEDI).
        """
        if frames.ndim != 5 or frames.shape[1] != self.n:
            raise ValueError(f"reset needs frames of shape (B, {self.n}, H, W, 3), got {tuple(frames.shape)}")
        self.states = self.model.to_states(frames)
        self.past_actions = actions.long()[:, : self.n - 1]
        # burn the LSTM in on the outcomes the context holds (the steps between its frames)
        _, _, self._lstm = self.model.reward_end(*self.model.reward_window_inputs(self.states, self.past_actions))
        return self.states

    @torch.no_grad()
    def step_states(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Tensor form of ``step``: actions (B,) -> next states (B, C, h, w), reward signs (B,), ends (B,).

        (With ``outcomes="expected"`` the ends are probabilities, floats.)
        """
        if self.states is None or self.past_actions is None:
            raise RuntimeError("call reset before step")
        a = actions.long().reshape(-1)
        cond_actions = torch.cat([self.past_actions, a[:, None]], dim=1)  # the actions taken on self.states
        nxt, regressed = self.model.sample_next(self.states, cond_actions, self.denoising_steps, generator=self.generator)
        reward_inputs = self.model.reward_step_inputs(self.states, cond_actions, nxt, regressed)
        reward_logits, end_logits, self._lstm = self.model.reward_end(*reward_inputs, self._lstm)
        if self.outcomes == "sample":
            reward, end = RewardEndModel.sample_predictions(reward_logits[:, 0], end_logits[:, 0], self.generator)
        elif self.outcomes == "expected":
            reward, end = RewardEndModel.expected_outcomes(reward_logits[:, 0], end_logits[:, 0])
        else:
            reward, end = RewardEndModel.predictions(reward_logits[:, 0], end_logits[:, 0])
        self.states = torch.cat([self.states[:, 1:], nxt[:, None]], dim=1)
        self.past_actions = cond_actions[:, 1:]
        return nxt, reward, end

    def reset(self, frames: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Start from real context: ``frames`` (B, n, H, W, 3) uint8 and ``actions`` (B, n) taken on them.

        ``actions[:, j]`` is the action taken on frame ``j``; the last one (taken on the last frame) is
        not used: the first ``step``'s action takes its place. Returns the last frame as the model shows
        it (decoded for JEDI), (B, H, W, 3) uint8.
        """
        states = self.reset_states(torch.as_tensor(np.asarray(frames), device=self.device), torch.as_tensor(np.asarray(actions), device=self.device))
        return self._pixels(states[:, -1])

    def step(self, actions: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance every game by one action: returns frames (B, H, W, 3) uint8, reward signs (B,), ends (B,)."""
        nxt, reward, end = self.step_states(torch.as_tensor(np.asarray(actions), device=self.device))
        return self._pixels(nxt), reward.cpu().numpy(), end.cpu().numpy()

    @torch.no_grad()
    def _pixels(self, states: Tensor) -> np.ndarray:
        return self.model.to_frames(states).cpu().numpy()

    @torch.no_grad()
    def resync(self, index: int, frames: np.ndarray, actions: np.ndarray) -> None:
        """Replace game ``index``'s context with real frames (n, H, W, 3) and actions (n,); re-burns its LSTM."""
        assert self.states is not None and self.past_actions is not None and self._lstm is not None
        states = self.model.to_states(torch.as_tensor(np.asarray(frames), device=self.device)[None])
        acts = torch.as_tensor(np.asarray(actions), device=self.device, dtype=torch.long)[None, : self.n - 1]
        self.states[index] = states[0]
        self.past_actions[index] = acts[0]
        _, _, (h, c) = self.model.reward_end(*self.model.reward_window_inputs(states, acts))
        self._lstm[0][:, index] = h[:, 0]
        self._lstm[1][:, index] = c[:, 0]
