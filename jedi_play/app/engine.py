"""What the app's modes share, free of pygame: the ``Engine`` (model, real game, settings) and ``view_of``."""

from __future__ import annotations

import numpy as np
import torch

from jedi_play.agent.player import AgentPlayer
from jedi_play.app.hud import PaneView
from jedi_play.app.panes import Context, DreamGroup, Pane, PaneObserver, RealPane
from jedi_play.hub.model_folder import LoadedModel


def view_of(pane: Pane, title: str, caption: str = "") -> PaneView:
    return PaneView(title, pane.frame, pane.steps, pane.reward, pane.episode_return, pane.done, caption)


class Engine:
    """What the modes share: the loaded model, the real game that supplies every context, the settings.

    Every pane it makes reports to ``observer`` (the recorder), when one is given.
    """

    def __init__(
        self, loaded: LoadedModel, denoising_steps: int, seed: int, observer: PaneObserver | None = None
    ) -> None:
        self.loaded = loaded
        self.world_model = loaded.world_model
        self.device = next(self.world_model.parameters()).device
        self.denoising_steps = denoising_steps
        self.observer = observer
        self.real = RealPane(loaded.game, self.world_model.num_cond_steps, observer=observer)
        self._second_real: RealPane | None = None
        self._next_seed = seed

    @property
    def has_agent(self) -> bool:
        return self.loaded.agent is not None

    def next_seed(self) -> int:
        """A new seed for a real episode or a dream's noise (consecutive from the session's seed)."""
        self._next_seed += 1
        return self._next_seed - 1

    def new_real_episode(self) -> None:
        self.real.reset(self.next_seed())

    def fresh_context(self) -> Context:
        """The real game's current context (a finished real episode is replaced by a new one first)."""
        if self.real.done:
            self.new_real_episode()
        return self.real.context()

    def new_dream(self, size: int, stop_at_end: bool = True) -> DreamGroup:
        return DreamGroup(self.world_model, size, self.denoising_steps, self.next_seed(), stop_at_end, self.observer)

    def new_agent(self) -> AgentPlayer:
        if self.loaded.agent is None:
            raise RuntimeError("this model has no agent")
        return AgentPlayer(self.world_model, self.loaded.agent, seed=self.next_seed())

    @torch.no_grad()
    def states_of(self, frames: np.ndarray) -> torch.Tensor:
        """World-model states ``(1, T, C, h, w)`` of real frames ``(T, 64, 64, 3)``."""
        return self.world_model.to_states(torch.as_tensor(frames, device=self.device)[None])

    def second_real(self) -> RealPane:
        """A second real game (versus mode in the real game), made on first use."""
        if self._second_real is None:
            self._second_real = RealPane(self.loaded.game, self.world_model.num_cond_steps, observer=self.observer)
        return self._second_real

    def close(self) -> None:
        self.real.close()
        if self._second_real is not None:
            self._second_real.close()
