"""The games behind the app's panes, free of pygame: the real game and slots of a dream, one step at a time.

A pane shows one game and counts its own steps, last reward and return. ``RealPane`` plays the real
game (the evaluation env: all lives) and keeps its last ``n`` frames and the actions taken on them, the
context a dream starts from. ``DreamGroup`` holds a ``DreamEnv`` whose batch slots are ``DreamPane``\\ s,
stepped together (batch 2 serves versus mode). A pane whose episode ended stays frozen on its last frame
until it is restarted.

A ``PaneObserver`` (the app's recorder) hears of every step a pane plays (``stepped``) and of every jump
of its frame that is not a step (``restarted``: a new episode, or a dream re-synced from the real game).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import torch

from jedi_play.dream.dream_env import DreamEnv
from jedi_play.env.atari import AtariEnv, make_eval_env
from jedi_play.models.world_model import WorldModel

World = Literal["real", "dream"]
NOOP = 0


@dataclass
class PaneStep:
    """One step of a pane: the new 64x64 frame, the reward and whether the episode is over."""

    frame: np.ndarray  # (64, 64, 3) uint8
    reward: float
    done: bool


@dataclass(frozen=True)
class Context:
    """Real context for a dream: ``frames`` (n, 64, 64, 3) uint8 and ``actions`` (n,), ``actions[j]`` taken
    on ``frames[j]`` (the last is a placeholder: the dream's first step replaces it)."""

    frames: np.ndarray
    actions: np.ndarray


class PaneObserver(Protocol):
    """Hears what panes play: each step (after the pane's counters moved) and each jump of the frame."""

    def stepped(self, pane: Pane, action: int, terminated: bool, truncated: bool, life_loss: bool) -> None: ...

    def restarted(self, pane: Pane) -> None: ...


class Pane:
    """The counters every pane keeps: steps, the last reward, the return and the end of the episode."""

    world: World

    def __init__(self, observer: PaneObserver | None = None) -> None:
        self.frame = np.zeros((64, 64, 3), np.uint8)
        self.steps = 0
        self.reward = 0.0
        self.episode_return = 0.0
        self.done = False
        self.observer = observer

    def _restart(self, frame: np.ndarray) -> None:
        self.frame = np.ascontiguousarray(frame)
        self.steps, self.reward, self.episode_return, self.done = 0, 0.0, 0.0, False
        self._jumped()

    def _jumped(self) -> None:
        """Tell the observer that the frame changed without a step."""
        if self.observer is not None:
            self.observer.restarted(self)

    def _told(self, action: int, terminated: bool, truncated: bool = False, life_loss: bool = False) -> None:
        """Tell the observer of the step just recorded."""
        if self.observer is not None:
            self.observer.stepped(self, int(action), bool(terminated), bool(truncated), bool(life_loss))

    def _record(self, frame: np.ndarray, reward: float, done: bool) -> PaneStep:
        self.frame = np.ascontiguousarray(frame)
        self.steps += 1
        self.reward = float(reward)
        self.episode_return += self.reward
        self.done = bool(done)
        return PaneStep(self.frame, self.reward, self.done)

    def _frozen(self) -> PaneStep:
        return PaneStep(self.frame, 0.0, True)


class RealPane(Pane):
    """The real game (evaluation env). ``reset`` plays ``n - 1`` NOOPs after the env's own no-op start, so
    that a full context exists before the first step; two panes reset with the same seed start identically."""

    world: World = "real"

    def __init__(
        self, game: str, num_context: int, env: AtariEnv | None = None, observer: PaneObserver | None = None
    ) -> None:
        super().__init__(observer)
        self.env = env or make_eval_env(game)
        self.n = num_context
        self._frames: deque[np.ndarray] = deque(maxlen=num_context)
        self._actions: deque[int] = deque(maxlen=num_context - 1)  # _actions[j] was taken on _frames[j]
        self.seed: int | None = None

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start a new episode (seeded: the same seed gives the same start) and fill the context."""
        self.seed = seed
        frame, _ = self.env.reset(seed=seed)
        self._frames.clear()
        self._actions.clear()
        self._frames.append(frame)
        while len(self._frames) < self.n:
            frame, _, terminated, truncated, _ = self.env.step(NOOP)
            self._frames.append(frame)
            self._actions.append(NOOP)
            if terminated or truncated:  # cannot happen in n NOOPs of an Atari 100k game; start over if it does
                return self.reset(None if seed is None else seed + 1)
        self._restart(frame)
        return self.frame

    def step(self, action: int) -> PaneStep:
        """Play ``action`` on the current frame (a finished episode stays frozen)."""
        if self.done:
            return self._frozen()
        frame, reward, terminated, truncated, info = self.env.step(int(action))
        self._frames.append(frame)
        self._actions.append(int(action))
        step = self._record(frame, reward, terminated or truncated)
        self._told(action, terminated, truncated, bool(info.get("life_loss", False)))
        return step

    def context(self) -> Context:
        """The last ``n`` frames and the actions taken on them (the last action is a NOOP placeholder)."""
        return Context(np.stack(self._frames), np.array([*self._actions, NOOP], np.int64))

    def close(self) -> None:
        self.env.close()


class DreamPane(Pane):
    """One slot of a ``DreamGroup``; it steps with its group."""

    world: World = "dream"

    def __init__(self, group: DreamGroup, index: int, observer: PaneObserver | None = None) -> None:
        super().__init__(observer)
        self.group = group
        self.index = index

    def state(self) -> torch.Tensor:
        """The slot's current world-model state ``(1, C, h, w)`` (what the agent reads in the dream)."""
        assert self.group.env.states is not None
        return self.group.env.states[self.index : self.index + 1, -1]

    def context_states(self) -> torch.Tensor:
        """The states before the current one ``(1, n - 1, C, h, w)``, to burn the agent's LSTM in on."""
        assert self.group.env.states is not None
        return self.group.env.states[self.index : self.index + 1, :-1]


class DreamGroup:
    """A ``DreamEnv`` of ``size`` slots, each a ``DreamPane``, started from one real context.

    ``stop_at_end``: a slot whose dream predicts the end of the episode freezes (the panes people play);
    otherwise it only flags ``done`` and goes on (compare mode follows the real game, not the dream's ends;
    its observer hears of no end either).
    """

    def __init__(
        self,
        world_model: WorldModel,
        size: int,
        denoising_steps: int,
        seed: int,
        stop_at_end: bool = True,
        observer: PaneObserver | None = None,
    ) -> None:
        self.env = DreamEnv(world_model, denoising_steps)
        self.env.seed(seed)
        self.panes = [DreamPane(self, i, observer) for i in range(size)]
        self.stop_at_end = stop_at_end

    @property
    def size(self) -> int:
        return len(self.panes)

    def use_model(self, world_model: WorldModel) -> None:
        """Go on with ``world_model`` (the same weights, e.g. a compiled copy): the dream's state is kept."""
        self.env.model = world_model.eval()

    @property
    def denoising_steps(self) -> int:
        return self.env.denoising_steps

    @denoising_steps.setter
    def denoising_steps(self, steps: int) -> None:
        self.env.denoising_steps = steps

    def reset(self, context: Context) -> None:
        """Start every slot from the same real context."""
        size = len(self.panes)
        frames = np.repeat(context.frames[None], size, axis=0)
        actions = np.repeat(context.actions[None], size, axis=0)
        for pane, frame in zip(self.panes, self.env.reset(frames, actions)):
            pane._restart(frame)

    def step(self, actions: Sequence[int]) -> list[PaneStep]:
        """Advance every slot by its action; slots whose episode ended stay frozen (with ``stop_at_end``)."""
        frames, rewards, ends = self.env.step(np.asarray(actions, np.int64))
        steps = []
        for i, pane in enumerate(self.panes):
            if pane.done and self.stop_at_end:
                steps.append(pane._frozen())
                continue
            steps.append(pane._record(frames[i], rewards[i], ends[i]))
            pane._told(actions[i], bool(ends[i]) and self.stop_at_end)
        return steps

    @torch.no_grad()
    def resync(self, index: int, context: Context) -> np.ndarray:
        """Replace slot ``index``'s context with real context (its counters go on); returns its new frame."""
        self.env.resync(index, context.frames, context.actions)
        assert self.env.states is not None
        pane = self.panes[index]
        decoded = self.env.model.to_frames(self.env.states[index : index + 1, -1])
        pane.frame = np.ascontiguousarray(decoded.cpu().numpy()[0])
        pane.done = False
        pane._jumped()
        return pane.frame
