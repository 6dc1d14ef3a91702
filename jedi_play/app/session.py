"""``Session``: the app's state without pygame: the model, the real game, the current mode and its settings.

The window turns keys into calls on the session (``advance`` each frame with the person's action,
``set_mode``, ``toggle_controller``, ``toggle_world``, ``resync``, ``reset``, ``change_denoising_steps``,
``paused``) and draws ``views()`` and ``hud(fps)``. Commands that cannot apply leave a notice instead
of failing (``take_notice``), so no key ever stops the game.
"""

from __future__ import annotations

import random

from jedi_play.app.engine import Engine, PaneView
from jedi_play.app.hud import HudState
from jedi_play.app.modes import CompareMode, Mode, SoloMode, VersusMode
from jedi_play.env.keymap import Keymap
from jedi_play.hub.model_folder import LoadedModel

MODES = ("dream", "agent", "compare", "versus")
AGENT_MODES = ("agent", "versus")  # modes that need the model's agent
MAX_DENOISING_STEPS = 20


class Session:
    """The running app: ``advance(person_action)`` plays one frame of the current mode."""

    def __init__(
        self, loaded: LoadedModel, *, mode: str = "dream", denoising_steps: int | None = None, seed: int | None = None
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; the modes are {', '.join(MODES)}")
        if mode in AGENT_MODES and loaded.agent is None:
            raise ValueError(f"{mode} mode needs an agent, and the model in {loaded.path} has none")
        steps = max(1, min(denoising_steps or loaded.world_model.sampler.steps, MAX_DENOISING_STEPS))
        self.engine = Engine(loaded, steps, random.randrange(2**31) if seed is None else seed)
        self.game = loaded.game
        self.keymap = Keymap(loaded.action_meanings)
        self.paused = False
        self._notice = ""
        self.engine.new_real_episode()  # the real game's first frames are every dream's first context
        self.mode: Mode = self._build(mode)
        self.mode.start()

    # -- one frame ------------------------------------------------------------------------------------

    def advance(self, person_action: int) -> list[PaneView]:
        """Play one frame of the current mode with the person's action; returns the panes to draw."""
        self.mode.advance(int(person_action))
        return self.mode.views()

    def views(self) -> list[PaneView]:
        return self.mode.views()

    # -- commands (keys) ------------------------------------------------------------------------------

    def set_mode(self, name: str) -> None:
        """Switch mode; the new mode starts from the real game's current context."""
        if name not in MODES:
            raise ValueError(f"unknown mode {name!r}")
        if name == self.mode.name:
            return
        if name in AGENT_MODES and not self.engine.has_agent:
            self.notice(f"{name} mode needs an agent; this model has none")
            return
        self.mode = self._build(name)
        self.mode.start()
        self.notice(f"mode: {name}")

    def toggle_controller(self) -> None:
        self.notice(self.mode.toggle_controller())

    def toggle_world(self) -> None:
        self.notice(self.mode.toggle_world())

    def resync(self) -> None:
        self.notice(self.mode.resync())

    def reset(self) -> None:
        """A new episode (a new match in versus mode)."""
        self.mode.reset()
        self.notice("new episode" if self.mode.name != "versus" else "new match")

    def change_denoising_steps(self, delta: int) -> None:
        """Denoising steps up or down (1 to ``MAX_DENOISING_STEPS``); the next dreamed frame uses them."""
        self.engine.denoising_steps = max(1, min(self.engine.denoising_steps + delta, MAX_DENOISING_STEPS))
        self.notice(f"denoising steps: {self.engine.denoising_steps}")

    @property
    def denoising_steps(self) -> int:
        return self.engine.denoising_steps

    # -- what the HUD shows ---------------------------------------------------------------------------

    def hud(self, fps: float) -> HudState:
        mode, pane = self.mode, self.mode.primary
        state = HudState(
            game=self.game,
            mode=mode.name,
            controller="person vs agent" if isinstance(mode, VersusMode) else mode.controller,
            world=mode.world if not isinstance(mode, CompareMode) else "real + dream",
            steps=pane.steps,
            reward=pane.reward,
            episode_return=pane.episode_return,
            fps=fps,
            denoising_steps=self.engine.denoising_steps,
            paused=self.paused,
            detail=mode.detail,
        )
        if mode.agent_step is not None:
            step = mode.agent_step
            state.agent_action = self.keymap.action_meanings[step.action]
            state.agent_entropy, state.agent_value = step.entropy, step.value
        return state

    def notice(self, text: str) -> None:
        self._notice = text

    def take_notice(self) -> str:
        """The latest notice (once), for the window to show for a moment."""
        text, self._notice = self._notice, ""
        return text

    def close(self) -> None:
        self.engine.close()

    def _build(self, name: str) -> Mode:
        if name == "dream":
            return SoloMode(self.engine, "dream", "person")
        if name == "agent":
            return SoloMode(self.engine, "agent", "agent")
        if name == "compare":
            return CompareMode(self.engine)
        return VersusMode(self.engine)
