"""Recorded episodes played back, free of pygame: finding them (a file or a folder) and the ``ReplayPlayer``.

``find_recordings`` turns ``jedi-play replay`` / ``export-video``'s argument into episode files (a folder
in the episode-folder format, or one ``.npz`` file, whose folder's ``meta.json`` names the game when it
has one). The player shows frame ``t`` of an episode with the reward of the step that led to it and the
return so far; at an episode's last frame it holds for ``END_HOLD_FRAMES`` frames, then goes on to the
next episode (after the last one, back to the first).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jedi_play.app.hud import HUD_LINES, PaneView, number
from jedi_play.cli.errors import UserError
from jedi_play.data.episode import CorruptEpisodeError, Episode
from jedi_play.data.store import EpisodeStore, read_facts

END_HOLD_FRAMES = 15  # an episode's last frame stays this many frames before the next episode
SPEEDS = (1, 2, 4, 8, 15, 30, 60, 120)  # playback frames per second, slower to faster

REPLAY_KEYS: list[tuple[str, str]] = [
    ("P", "pause / resume"),
    ("N", "one step while paused"),
    ("+ / -", "faster / slower (also Up / Down)"),
    ("Right / Left", "next / previous episode"),
    ("Backspace", "this episode from its start"),
    ("F12", "screenshot (current folder)"),
    ("H / F1", "this help"),
    ("Esc", "quit"),
]


@dataclass
class Recordings:
    """Episode files to play, with the game and action names when a ``meta.json`` says them."""

    paths: list[Path]
    game: str
    action_meanings: list[str] | None


def find_recordings(source: Path, episode: int | None = None) -> Recordings:
    """The episodes of ``source`` (an episode folder or one ``.npz`` file); only the ``episode``-th (from 0) of
    a folder when given. ``UserError`` when there is nothing to play."""
    if not source.exists():
        raise UserError(f"{source} does not exist")
    if source.is_dir():
        store = EpisodeStore.open(source)
        paths = store.paths()
        if not paths:
            raise UserError(f"{source} holds no episodes yet")
        if episode is not None:
            if not 0 <= episode < len(paths):
                raise UserError(f"--episode {episode}: {source} holds episodes 0 to {len(paths) - 1}")
            paths = [paths[episode]]
        return Recordings(paths, store.game, store.action_meanings)
    if source.suffix != ".npz":
        raise UserError(f"{source} is neither an episode file (.npz) nor an episode folder")
    if episode is not None:
        raise UserError("--episode picks an episode of a folder; give the folder, not a file")
    Episode.read_length(source)  # a damaged or foreign file is one line now, not later
    try:
        store = EpisodeStore.open(source.parent)
        return Recordings([source], store.game, store.action_meanings)
    except UserError:
        return Recordings([source], "episode", None)


def step_speed(fps: int, faster: bool) -> int:
    """The next playback speed in ``SPEEDS`` (0, uncapped, stays uncapped faster and becomes the fastest slower)."""
    if fps <= 0:
        return 0 if faster else SPEEDS[-1]
    if faster:
        return next((s for s in SPEEDS if s > fps), SPEEDS[-1])
    return next((s for s in reversed(SPEEDS) if s < fps), SPEEDS[0])


class ReplayPlayer:
    """Plays ``recordings`` one frame per ``advance``; ``next_episode``, ``previous_episode``, ``restart``."""

    def __init__(self, recordings: Recordings) -> None:
        self.recordings = recordings
        self.index = 0
        self.paused = False
        self.t = 0
        self._hold = 0
        self._notice = ""
        self.episode, self.facts = self._load(0, +1)

    @property
    def count(self) -> int:
        return len(self.recordings.paths)

    @property
    def path(self) -> Path:
        return self.recordings.paths[self.index]

    # -- moving -----------------------------------------------------------------------------------------

    def advance(self) -> None:
        """One frame on; at the end, hold, then the next episode."""
        if self.t < len(self.episode):
            self.t += 1
            self._hold = 0
            return
        self._hold += 1
        if self._hold >= END_HOLD_FRAMES:
            self.next_episode()

    def next_episode(self) -> None:
        self._go(+1)

    def previous_episode(self) -> None:
        self._go(-1)

    def restart(self) -> None:
        self.t, self._hold = 0, 0

    def _go(self, direction: int) -> None:
        self.episode, self.facts = self._load((self.index + direction) % self.count, direction)
        self.restart()

    def _load(self, index: int, direction: int) -> tuple[Episode, dict[str, Any]]:
        """Episode ``index``, or the first readable one from there on in ``direction`` (damaged ones are skipped)."""
        for k in range(self.count):
            i = (index + k * direction) % self.count
            try:
                episode = Episode.load(self.recordings.paths[i])
            except CorruptEpisodeError as e:
                self._notice = f"skipped: {e}"
                continue
            self.index = i
            return episode, read_facts(self.recordings.paths[i])
        raise UserError(f"none of the {self.count} episode file(s) can be read ({self._notice})")

    # -- what the window shows ------------------------------------------------------------------------------

    @property
    def reward(self) -> float:
        return float(self.episode.rewards[self.t - 1]) if self.t > 0 else 0.0

    @property
    def episode_return(self) -> float:
        return float(self.episode.rewards[: self.t].sum())

    @property
    def at_end(self) -> bool:
        return self.t == len(self.episode)

    def action_name(self) -> str:
        """The action of the step that led to the frame shown ('-' on the first frame)."""
        if self.t == 0:
            return "-"
        action = int(self.episode.actions[self.t - 1])
        meanings = self.recordings.action_meanings
        return meanings[action] if meanings is not None and action < len(meanings) else str(action)

    def view(self) -> PaneView:
        title = f"episode {self.index + 1} of {self.count}"
        caption = ""
        if self.at_end:
            caption = "ended" if self.episode.terminated[-1] else "recording stopped"
        return PaneView(
            title, self.episode.frames[self.t], self.t, self.reward, self.episode_return, self.at_end, caption
        )

    def take_notice(self) -> str:
        text, self._notice = self._notice, ""
        return text

    def hud_lines(self, fps: int, notice: str = "") -> list[str]:
        """The ``HUD_LINES`` lines: what was recorded, the counters and speed, the action, and keys or a notice."""
        head = f"{self.recordings.game}   replay   {self.path.name}"
        facts = self.facts
        if facts.get("mode"):
            controllers = "+".join(facts.get("controllers", [])) or "?"
            head += f"   mode {facts['mode']}   world {facts.get('world', '?')}   controller {controllers}"
        if self.paused:
            head += "   PAUSED (P resume, N step)"
        sign = "+" if self.reward > 0 else ""
        speed = f"{fps} fps" if fps > 0 else "uncapped"
        counters = (
            f"step {self.t} of {len(self.episode)}   reward {sign}{number(self.reward)}   "
            f"return {number(self.episode_return)}   speed {speed}"
        )
        action = f"action {self.action_name()}"
        if facts.get("started_at"):
            action += f"   recorded {facts['started_at']}"
        last = notice or "P pause   N step   + - speed   Left Right episode   H help   Esc quit"
        lines = [head, counters, action, last]
        assert len(lines) == HUD_LINES
        return lines
