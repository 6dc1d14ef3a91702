"""``AgentPlayer``: the actor-critic playing a real game (or any frame source) one frame at a time.

Each frame goes through the world model's ``to_states`` (the encoder for JEDI, the frame itself for
DIAMOND) and the agent's LSTM carries over from frame to frame until ``reset`` (a new episode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from jedi_play.models.actor_critic import ActorCritic, LSTMState
from jedi_play.models.world_model import WorldModel


@dataclass
class AgentStep:
    """What the agent did on one frame, for the app's HUD: its action, the policy's entropy, its value."""

    action: int
    entropy: float
    value: float


class AgentPlayer:
    """Callable as a collector policy: ``player(frame) -> action``; ``act`` also gives entropy and value."""

    def __init__(self, world_model: WorldModel, agent: ActorCritic, *, epsilon: float = 0.0, greedy: bool = False, seed: int | None = None) -> None:
        self.world_model = world_model
        self.agent = agent
        self.epsilon = epsilon
        self.greedy = greedy
        self.device = next(agent.parameters()).device
        self.generator = torch.Generator(device=self.device)
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(seed)
        self._lstm: LSTMState | None = None

    def reset(self) -> None:
        """Forget the episode so far (call at each episode start)."""
        self._lstm = None

    @torch.no_grad()
    def burn_in(self, states: torch.Tensor) -> None:
        """Start an episode from context states ``(1, T, C, h, w)``: a fresh LSTM run over them (as in imagination)."""
        self._lstm = self.agent.burn_in(states) if states.shape[1] > 0 else None

    @torch.no_grad()
    def act(self, frame: np.ndarray) -> AgentStep:
        """Choose the action for ``frame`` (H, W, 3) uint8."""
        return self.act_state(self._to_states(np.asarray(frame)[None]))

    @torch.no_grad()
    def act_state(self, state: torch.Tensor) -> AgentStep:
        """Choose the action for a world-model state ``(1, C, h, w)`` (a dreamed latent, as the agent was trained on)."""
        actions, entropy, value, self._lstm = self.agent.act(state, self._lstm, epsilon=self.epsilon, greedy=self.greedy, generator=self.generator)
        return AgentStep(int(actions[0]), float(entropy[0]), float(value[0]))

    def initial_state(self, batch_size: int) -> LSTMState:
        """The LSTM state of ``batch_size`` games at their start, for ``act_batch``."""
        return self.agent.initial_state(batch_size, self.device)

    @torch.no_grad()
    def act_batch(self, frames: np.ndarray, lstm_state: LSTMState) -> tuple[np.ndarray, LSTMState]:
        """Actions for the frames ``(N, H, W, 3)`` uint8 of N independent games, each with its row of ``lstm_state``.

        The caller keeps the LSTM state (zero a row when its game starts again); used by batched evaluation.
        """
        actions, _, _, lstm_state = self.agent.act(self._to_states(frames), lstm_state, epsilon=self.epsilon, greedy=self.greedy, generator=self.generator)
        return actions.cpu().numpy(), lstm_state

    def _to_states(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 frames ``(N, H, W, 3)`` -> world-model states ``(N, C, h, w)``."""
        frames_t = torch.as_tensor(np.asarray(frames), device=self.device)[:, None]  # (N, 1, H, W, 3)
        return self.world_model.to_states(frames_t)[:, 0]

    def __call__(self, frame: np.ndarray) -> int:
        return self.act(frame).action
