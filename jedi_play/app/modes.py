"""The app's four modes, free of pygame: what each pane shows and how it advances one frame.

- ``SoloMode`` serves ``dream`` (a person plays in the world model) and ``agent`` (the agent plays): one
  pane, in the dream or the real game (``toggle_world``), played by the person or the agent
  (``toggle_controller``).
- ``CompareMode``: the real game and the dream advance in lockstep on the same actions, with the PSNR of
  the dreamed frame against the real one; ``resync`` restarts the dream from the real game's context.
- ``VersusMode``: the person and the agent play from the same start in two panes (in the dream: one
  ``DreamEnv`` of batch 2), until both episodes ended or ``VERSUS_STEP_CAP`` steps; the higher return wins.

Every dream starts from the real game's current context (``Engine.real``), so a mode starts at once.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Literal

import numpy as np

from jedi_play.agent.player import AgentPlayer, AgentStep
from jedi_play.app.engine import Engine, view_of
from jedi_play.app.hud import PaneView, number
from jedi_play.app.panes import DreamGroup, DreamPane, Pane, RealPane, World

Controller = Literal["person", "agent"]
AUTO_RESET_FRAMES = 30  # a finished episode stays on screen this many frames (2 s at 15 fps), then a new one starts
VERSUS_STEP_CAP = 1000  # a versus match ends after this many steps even if an episode goes on
NOOP = 0


def psnr(dreamed: np.ndarray, real: np.ndarray) -> float:
    """PSNR in dB of two uint8 frames, pixels in [0, 1]; ``inf`` for identical frames."""
    return psnr_from_mse(frame_mse(dreamed, real))


def frame_mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error of two uint8 frames with pixels in [0, 1]."""
    diff = a.astype(np.float32) / 255.0 - b.astype(np.float32) / 255.0
    return float(np.mean(diff * diff))


def psnr_from_mse(mse: float) -> float:
    return math.inf if mse <= 0 else 10.0 * math.log10(1.0 / mse)


class Mode(ABC):
    """One app mode: ``start`` from the real game's context, then ``advance`` one frame at a time."""

    name: str
    switchable_controller = True

    def __init__(self, engine: Engine, controller: Controller = "person", world: World = "dream") -> None:
        self.engine = engine
        self.controller: Controller = controller
        self.world: World = world
        self.agent: AgentPlayer | None = None
        self.agent_step: AgentStep | None = None  # the agent's last decision, for the HUD
        self._hold = 0  # frames a finished episode has been shown

    @abstractmethod
    def start(self) -> None:
        """Begin from the real game's current context."""

    @abstractmethod
    def advance(self, person_action: int) -> None:
        """One frame: the person's held keys give ``person_action``."""

    @abstractmethod
    def views(self) -> list[PaneView]:
        """The panes to draw, left to right."""

    @property
    @abstractmethod
    def primary(self) -> Pane:
        """The pane whose step, reward and return the HUD shows."""

    @property
    @abstractmethod
    def panes(self) -> list[Pane]:
        """The panes shown, left to right (those of ``views``)."""

    def controller_of(self, pane: Pane) -> Controller:
        """Who plays ``pane``."""
        return self.controller

    @property
    def detail(self) -> str:
        """A mode-specific HUD line (PSNR, the versus score); empty when there is none."""
        return ""

    def reset(self) -> None:
        """A new real episode, and the mode started again from it."""
        self.engine.new_real_episode()
        self.start()

    def toggle_controller(self) -> str:
        """Switch person <-> agent; returns a line for the HUD."""
        if not self.switchable_controller:
            return f"{self.name} mode: the person plays against the agent"
        if self.controller == "person" and not self.engine.has_agent:
            return "this model has no agent: the person keeps playing"
        self.controller = "agent" if self.controller == "person" else "person"
        self._restart_controller()
        return f"controller: {self.controller}"

    def toggle_world(self) -> str:
        """Switch dream <-> real game; returns a line for the HUD."""
        return f"{self.name} mode shows both the dream and the real game"

    def resync(self) -> str:
        """Restart the dream from the real game (compare mode); returns a line for the HUD."""
        return "re-sync applies to compare mode (key 3)"

    def _restart_controller(self) -> None:
        """Forget the agent's last step; a fresh agent takes over when it is in control."""
        self.agent_step = None
        if self.controller == "agent":
            self._start_agent()

    def _start_agent(self) -> None:
        """Give control to a fresh agent whose LSTM is burned in on the controlled pane's context."""

    def _agent_plays(self, pane: Pane) -> int:
        """The agent's action on ``pane``: on the dream's state (as in imagination) or the real frame."""
        assert self.agent is not None
        if isinstance(pane, DreamPane):
            self.agent_step = self.agent.act_state(pane.state())
        else:
            self.agent_step = self.agent.act(pane.frame)
        return self.agent_step.action

    def _burn_in(self, pane: Pane) -> None:
        self.agent = self.engine.new_agent()
        if isinstance(pane, DreamPane):
            self.agent.burn_in(pane.context_states())
        else:
            assert isinstance(pane, RealPane)
            self.agent.burn_in(self.engine.states_of(pane.context().frames[:-1]))

    def _held_after_end(self, *panes: Pane) -> bool:
        """True while a finished episode is on show; starts a new one after ``AUTO_RESET_FRAMES``."""
        if not any(p.done for p in panes):
            self._hold = 0
            return False
        self._hold += 1
        if self._hold >= AUTO_RESET_FRAMES:
            self.reset()
        return True


class SoloMode(Mode):
    """``dream`` and ``agent`` modes: one pane, the dream or the real game, played by the person or the agent."""

    def __init__(self, engine: Engine, name: str, controller: Controller, world: World = "dream") -> None:
        super().__init__(engine, controller, world)
        self.name = name
        self.group: DreamGroup | None = None
        self.pane: Pane = engine.real

    def start(self) -> None:
        context = self.engine.fresh_context()
        if self.world == "dream":
            self.group = self.engine.new_dream(1)
            self.group.reset(context)
            self.pane = self.group.panes[0]
        else:
            self.group = None
            self.pane = self.engine.real
        self._hold = 0
        self._restart_controller()

    def _start_agent(self) -> None:
        self._burn_in(self.pane)

    @property
    def primary(self) -> Pane:
        return self.pane

    @property
    def panes(self) -> list[Pane]:
        return [self.pane]

    def advance(self, person_action: int) -> None:
        if self._held_after_end(self.pane):
            return
        action = self._agent_plays(self.pane) if self.controller == "agent" else person_action
        if self.group is not None:
            self.group.denoising_steps = self.engine.denoising_steps
            self.group.step([action])
        else:
            self.engine.real.step(action)

    def toggle_world(self) -> str:
        """Dream -> real: the real game goes on from the context the dream started from. Real -> dream: a new
        dream starts from the real game's current frames."""
        self.world = "real" if self.world == "dream" else "dream"
        self.start()
        return f"now playing the {'real game' if self.world == 'real' else 'dream'}"

    def views(self) -> list[PaneView]:
        title = "dream" if self.world == "dream" else "real game"
        return [view_of(self.pane, f"{title} ({self.controller})", "episode over" if self.pane.done else "")]


class CompareMode(Mode):
    """The real game and the dream in lockstep on the same actions, with the per-frame PSNR."""

    name = "compare"

    def __init__(self, engine: Engine, controller: Controller = "person") -> None:
        super().__init__(engine, controller, "real")
        self.group: DreamGroup | None = None
        self.psnr = math.inf
        self._mse_sum = 0.0
        self._frames = 0

    @property
    def real(self) -> RealPane:
        return self.engine.real

    @property
    def dream(self) -> DreamPane:
        assert self.group is not None
        return self.group.panes[0]

    @property
    def primary(self) -> Pane:
        return self.real

    @property
    def panes(self) -> list[Pane]:
        return [self.real, self.dream]

    @property
    def mean_psnr(self) -> float:
        """PSNR of the mean squared error over the frames since the last (re)start, as ``jedi-eval fidelity`` pools it."""
        return psnr_from_mse(self._mse_sum / max(self._frames, 1))

    def start(self) -> None:
        context = self.engine.fresh_context()
        self.group = self.engine.new_dream(1, stop_at_end=False)  # the dream follows the real game's episode
        self.group.reset(context)
        self._restart_measure()
        self._hold = 0
        self._restart_controller()

    def _start_agent(self) -> None:
        self._burn_in(self.real)

    def advance(self, person_action: int) -> None:
        if self._held_after_end(self.real):
            return
        assert self.group is not None
        action = self._agent_plays(self.real) if self.controller == "agent" else person_action
        self.real.step(action)
        self.group.denoising_steps = self.engine.denoising_steps
        self.group.step([action])
        self._measure()

    def resync(self) -> str:
        assert self.group is not None
        self.group.resync(0, self.real.context())
        self._restart_measure()
        return "re-synced the dream from the real game"

    def _restart_measure(self) -> None:
        self._mse_sum, self._frames = 0.0, 0
        self._measure()

    def _measure(self) -> None:
        mse = frame_mse(self.dream.frame, self.real.frame)
        self.psnr = psnr_from_mse(mse)
        self._mse_sum += mse
        self._frames += 1

    @property
    def detail(self) -> str:
        return f"PSNR dream vs real {_db(self.psnr)} (since sync: {_db(self.mean_psnr)} over {self._frames} frames)"

    def views(self) -> list[PaneView]:
        return [
            view_of(self.real, f"real game ({self.controller})", "game over" if self.real.done else ""),
            view_of(self.dream, "dream", f"PSNR {_db(self.psnr)}" + ("   (predicts an end)" if self.dream.done else "")),
        ]


class VersusMode(Mode):
    """The person (left) and the agent (right) from the same start; the higher return wins."""

    name = "versus"
    switchable_controller = False

    def __init__(self, engine: Engine, world: World = "dream", step_cap: int = VERSUS_STEP_CAP) -> None:
        super().__init__(engine, "person", world)
        self.step_cap = step_cap
        self.group: DreamGroup | None = None
        self.person: Pane = engine.real
        self.opponent: Pane = engine.real
        self.steps = 0
        self.winner: str | None = None  # "person", "agent" or "draw" once the match is over

    def start(self) -> None:
        if self.world == "dream":
            context = self.engine.fresh_context()
            self.group = self.engine.new_dream(2)
            self.group.reset(context)
            self.person, self.opponent = self.group.panes
        else:
            self.group = None
            seed = self.engine.next_seed()
            second = self.engine.second_real()
            self.engine.real.reset(seed)
            second.reset(seed)  # the same seed: the same start
            self.person, self.opponent = self.engine.real, second
        self.steps = 0
        self.winner = None
        self.agent_step = None
        self._burn_in(self.opponent)

    @property
    def primary(self) -> Pane:
        return self.person

    @property
    def panes(self) -> list[Pane]:
        return [self.person, self.opponent]

    def controller_of(self, pane: Pane) -> Controller:
        return "person" if pane is self.person else "agent"

    @property
    def finished(self) -> bool:
        return self.winner is not None

    def advance(self, person_action: int) -> None:
        if self.finished:
            return
        agent_action = NOOP if self.opponent.done else self._agent_plays(self.opponent)
        if self.group is not None:
            self.group.denoising_steps = self.engine.denoising_steps
            self.group.step([person_action, agent_action])
        else:
            assert isinstance(self.person, RealPane) and isinstance(self.opponent, RealPane)
            self.person.step(person_action)
            self.opponent.step(agent_action)
        self.steps += 1
        if (self.person.done and self.opponent.done) or self.steps >= self.step_cap:
            self.winner = _winner(self.person.episode_return, self.opponent.episode_return)

    def reset(self) -> None:
        """A new match (in the real game ``start`` itself starts both games from a new seed)."""
        if self.world == "dream":
            self.engine.new_real_episode()
        self.start()

    def toggle_world(self) -> str:
        self.world = "real" if self.world == "dream" else "dream"
        self.start()
        return f"new match in the {'real game' if self.world == 'real' else 'dream'}"

    @property
    def detail(self) -> str:
        score = f"you {number(self.person.episode_return)} : agent {number(self.opponent.episode_return)}"
        if self.winner is None:
            return f"{score}   step {self.steps} of {self.step_cap}"
        result = {"person": "you win", "agent": "the agent wins", "draw": "a draw"}[self.winner]
        return f"{score}   {result} (Backspace: new match)"

    def views(self) -> list[PaneView]:
        where = "dream" if self.world == "dream" else "real game"
        captions = {"person": "", "agent": ""}
        if self.winner in captions:
            captions[self.winner] = "WINNER"
        elif self.winner == "draw":
            captions = {"person": "DRAW", "agent": "DRAW"}
        for who, pane in (("person", self.person), ("agent", self.opponent)):
            captions[who] = captions[who] or ("episode over" if pane.done else "")
        return [
            view_of(self.person, f"you ({where})", captions["person"]),
            view_of(self.opponent, f"agent ({where})", captions["agent"]),
        ]


def _winner(person_return: float, agent_return: float) -> str:
    if person_return > agent_return:
        return "person"
    return "agent" if agent_return > person_return else "draw"


def _db(value: float) -> str:
    return "inf dB" if math.isinf(value) else f"{value:.1f} dB"
