"""What the app's modes share, free of pygame: the ``Engine`` (model, real game, settings) and ``view_of``.

With a ``BackgroundCompiler``, each new dream asks for a copy of the world model compiled for its batch
size; ``poll_compile`` (between frames) swaps each finished copy into every dream of that size, and later
dreams of that size start on it. The agent and the encoder of real frames stay on the eager model.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch

from jedi_play.agent.player import AgentPlayer
from jedi_play.app.background_compile import BackgroundCompiler, Compiled, CompileEvent
from jedi_play.app.hud import PaneView
from jedi_play.app.panes import Context, DreamGroup, Pane, PaneObserver, RealPane
from jedi_play.hub.model_folder import LoadedModel
from jedi_play.models.world_model import WorldModel


def view_of(pane: Pane, title: str, caption: str = "") -> PaneView:
    return PaneView(title, pane.frame, pane.steps, pane.reward, pane.episode_return, pane.done, caption)


class Engine:
    """What the modes share: the loaded model, the real game that supplies every context, the settings.

    Every pane it makes reports to ``observer`` (the recorder), when one is given. ``compiler``: compile
    the dream's networks in the background and swap them in when ready.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        denoising_steps: int,
        seed: int,
        observer: PaneObserver | None = None,
        compiler: BackgroundCompiler | None = None,
    ) -> None:
        self.loaded = loaded
        self.world_model = loaded.world_model  # eager: the agent, real frames' states, dreams not yet compiled
        self.compiler = compiler
        self.compiled: dict[int, WorldModel] = {}  # dream batch size -> its compiled copy
        self._dreams: weakref.WeakSet[DreamGroup] = weakref.WeakSet()
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
        """A dream of ``size`` games, on the compiled copy for that size when there is one (then the eager model)."""
        model = self.compiled.get(size, self.world_model)
        group = DreamGroup(model, size, self.denoising_steps, self.next_seed(), stop_at_end, self.observer)
        self._dreams.add(group)
        if self.compiler is not None and size not in self.compiled:
            self.compiler.want(size, self.real.context())
        return group

    def poll_compile(self) -> list[CompileEvent]:
        """Between frames: swap each newly compiled copy into the dreams of its batch size; returns the events."""
        if self.compiler is None:
            return []
        events = self.compiler.poll()
        for event in events:
            if isinstance(event, Compiled):
                self.compiled[event.batch_size] = event.model
                for group in list(self._dreams):
                    if group.size == event.batch_size:
                        group.use_model(event.model)
        return events

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
