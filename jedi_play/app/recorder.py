"""Recording what the app's panes show into an episode folder (``jedi-play --record DIR``, the F9 key).

The ``Recorder`` is every pane's ``PaneObserver``. Before each frame the session tells it which panes the
mode shows (``follow``); a shown pane gets a *take* that starts from its current frame and gains one step
for each step the pane plays (the 64x64 frame it then shows, the action, the reward, the end flags). A
take is saved as one ``Episode`` in the folder's format, with ``episode_NNNNNN.json`` beside it (mode,
world, controllers, model: what the episode file cannot say), when

- the pane's episode ends (a real game's end, or a dream that predicts one and freezes);
- the pane restarts or its frame jumps without a step (a new episode, a re-synced dream);
- the pane is no longer shown, or is shown in another mode;
- recording is switched off, or the app quits (``close``);
- it reaches ``MAX_TAKE_STEPS`` (the Atari 100k cap; a dream has none), and the next take goes on from there.

A take cut short has its last step marked truncated; a take of no step is dropped. Files are written
atomically by one background thread in the order takes end, so saving a long episode does not stall play.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jedi_play.app.hud import count, number
from jedi_play.app.panes import Pane
from jedi_play.data.episode import Episode, EpisodeBuilder
from jedi_play.data.store import EpisodeStore

FACTS_FORMAT = "jedi-play-recording"
MAX_TAKE_STEPS = 27_000  # 108,000 frames: the real game's episode cap, and a bound on a take's memory


@dataclass(frozen=True)
class Shown:
    """A pane the current mode shows: where (mode, left-to-right position) and who plays it."""

    pane: Pane
    mode: str
    position: int
    controller: str


@dataclass
class Take:
    """One pane's episode being recorded."""

    pane: Pane
    mode: str
    position: int
    builder: EpisodeBuilder
    started_at: str
    controllers: list[str] = field(default_factory=list)
    denoising_steps: list[int] = field(default_factory=list)

    def note(self, controller: str, denoising_steps: int) -> None:
        """Remember who played and (in a dream) with how many denoising steps."""
        if controller not in self.controllers:
            self.controllers.append(controller)
        if self.pane.world == "dream" and denoising_steps not in self.denoising_steps:
            self.denoising_steps.append(denoising_steps)


class Recorder:
    """Records the shown panes' episodes into ``store`` while ``enabled`` (see the module docstring)."""

    def __init__(self, facts: dict[str, Any], store: EpisodeStore | None = None) -> None:
        """``facts``: what every recording says (game, model); ``store``: where (recording starts at once)."""
        self.facts = dict(facts)
        self.store = store
        self.enabled = store is not None
        self.recorded = 0  # takes handed to the writer
        self._takes: dict[Pane, Take] = {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jedi-play-recorder")
        self._pending: list[Future[str]] = []
        self._failed: list[str] = []  # takes that could not be made into an episode

    # -- what the session tells it ----------------------------------------------------------------------

    def follow(self, shown: Sequence[Shown], denoising_steps: int) -> None:
        """Before a frame: save the takes of panes no longer shown as they were, start takes for shown ones."""
        where = {s.pane: s for s in shown}
        for pane, take in list(self._takes.items()):
            now = where.get(pane)
            if now is None or (now.mode, now.position) != (take.mode, take.position):
                self._finish(pane)
        if not self.enabled:
            return
        for s in shown:
            take = self._takes.get(s.pane)
            if take is None:
                if s.pane.done:  # a finished episode on show: the next one is recorded from its start
                    continue
                started = datetime.now().astimezone().isoformat(timespec="seconds")
                take = Take(s.pane, s.mode, s.position, EpisodeBuilder(s.pane.frame.copy()), started)
                self._takes[s.pane] = take
            take.note(s.controller, denoising_steps)

    def set_enabled(self, on: bool) -> None:
        """Start or stop recording; stopping saves the takes in progress."""
        if on and self.store is None:
            raise RuntimeError("the recorder has no episode folder")
        if not on:
            self.finish_all()
        self.enabled = on

    # -- PaneObserver -----------------------------------------------------------------------------------

    def stepped(self, pane: Pane, action: int, terminated: bool, truncated: bool, life_loss: bool) -> None:
        take = self._takes.get(pane)
        if take is None:
            return
        take.builder.add(action, pane.reward, pane.frame.copy(), terminated, truncated, life_loss)
        if terminated or truncated or len(take.builder) >= MAX_TAKE_STEPS:
            self._finish(pane)

    def restarted(self, pane: Pane) -> None:
        if pane in self._takes:
            self._finish(pane)

    # -- saving -----------------------------------------------------------------------------------------

    def finish_all(self) -> None:
        """Save every take in progress."""
        for pane in list(self._takes):
            self._finish(pane)

    def _finish(self, pane: Pane) -> None:
        take = self._takes.pop(pane)
        if len(take.builder) == 0 or self.store is None:
            return
        b = take.builder
        end = "terminated" if b.terminated[-1] else ("truncated" if b.truncated[-1] else "stopped")
        try:
            episode = b.build(cut=True)
        except ValueError as e:  # a step half added when a signal stopped the app
            self._failed.append(f"recording failed: {e}")
            return
        facts = {
            "format": FACTS_FORMAT,
            **self.facts,
            "mode": take.mode,
            "world": take.pane.world,
            "pane": take.position,
            "controllers": take.controllers,
            "denoising_steps": take.denoising_steps,
            "steps": len(episode),
            "return": episode.episode_return,
            "end": end,
            "started_at": take.started_at,
            "ended_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        self.recorded += 1
        self._pending.append(self._writer.submit(_write, self.store, episode, facts))

    def messages(self) -> list[str]:
        """One line per write finished since the last call: what was saved, or why it failed."""
        done = [f for f in self._pending if f.done()]
        self._pending = [f for f in self._pending if not f.done()]
        failed, self._failed = self._failed, []
        return failed + [_outcome(f) for f in done]

    def wait(self) -> list[str]:
        """Wait for every write; returns their lines."""
        for f in self._pending:
            f.exception()
        return self.messages()

    def close(self) -> list[str]:
        """Save the takes in progress, wait for every write and stop the writer; returns the writes' lines."""
        self.finish_all()
        lines = self.wait()
        self._writer.shutdown(wait=True)
        return lines


def _write(store: EpisodeStore, episode: Episode, facts: dict[str, Any]) -> str:
    path = store.append(episode, facts)
    return f"recorded {path.name}: {count(len(episode), 'step')}, return {number(episode.episode_return)}"


def _outcome(future: Future[str]) -> str:
    error = future.exception()
    if error is None:
        return future.result()
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return f"recording failed: {reason}"
