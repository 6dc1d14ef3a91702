"""A folder of episodes for one game: ``meta.json`` plus ``episode_NNNNNN.npz`` files.

Training replay (``jedi-train collect``, a run's ``replay/``) and the app's recordings (``jedi-play
--record``) share this format. An episode may have facts beside it that its arrays cannot say
(``episode_NNNNNN.json``: a recording's mode, controller, model), written after it; readers that do not
need them ignore them. Every file is written atomically, so a kill never leaves a half-written episode
behind; stray temporary files (``.episode_*.tmp-*``) are never read. Episodes are numbered in the order
they were written, which is what the sampler's recency weighting relies on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from jedi_play.cli.errors import UserError
from jedi_play.data.atomic import atomic_write_bytes
from jedi_play.data.episode import Episode

FORMAT = "jedi-play-episodes"
VERSION = 1
_EPISODE_RE = re.compile(r"^episode_(\d{6,})\.npz$")


def facts_path(episode_path: Path) -> Path:
    """``episode_000003.json`` beside ``episode_000003.npz``."""
    return episode_path.with_suffix(".json")


def read_facts(episode_path: Path) -> dict[str, Any]:
    """The facts saved beside an episode; empty when there are none or they cannot be read."""
    try:
        facts = json.loads(facts_path(episode_path).read_text())
    except (OSError, ValueError):
        return {}
    return facts if isinstance(facts, dict) else {}


class EpisodeStore:
    """Episodes of one game in one folder. Use ``create`` to start or extend one, ``open`` to read one."""

    def __init__(self, root: Path, game: str, action_meanings: list[str]) -> None:
        self.root = root
        self.game = game
        self.action_meanings = action_meanings

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def check(cls, root: str | Path, game: str, option: str | None = "--out") -> EpisodeStore | None:
        """Refuse a ``root`` that ``create`` could not use for ``game`` (the messages name the flag ``option``);
        returns the existing store, or ``None`` when the folder is new or empty. Writes nothing."""
        root = Path(root)
        where, other = (f"{option} {root}", f"; choose another {option} folder") if option else (str(root), "")
        if root.exists() and not root.is_dir():
            raise UserError(f"{where}: exists and is not a folder")
        if (root / "meta.json").exists():
            store = cls.open(root)
            if store.game != game:
                raise UserError(f"{where}: holds {store.game} episodes, not {game}{other}")
            return store
        if root.is_dir() and any(root.iterdir()):
            raise UserError(f"{where}: not empty and not an episode folder{other}")
        return None

    @classmethod
    def create(
        cls, root: str | Path, game: str, action_meanings: Sequence[str], option: str | None = "--out"
    ) -> EpisodeStore:
        """Open ``root`` for writing, making it if needed; refuses a folder holding another game's data."""
        root = Path(root)
        store = cls.check(root, game, option)
        if store is not None:
            if store.action_meanings != list(action_meanings):
                raise UserError(f"{root}: its {game} episodes use another action set than this model's")
            return store
        meta = {"format": FORMAT, "version": VERSION, "game": game, "action_meanings": list(action_meanings)}
        try:
            atomic_write_bytes(root / "meta.json", json.dumps(meta, indent=2).encode())
        except OSError as e:
            raise UserError(f"cannot write to {root}: {e.strerror}") from None
        return cls(root, game, list(action_meanings))

    @classmethod
    def open(cls, root: str | Path) -> EpisodeStore:
        """Open an existing episode folder for reading."""
        root = Path(root)
        if not root.is_dir():
            raise UserError(f"data folder {root} does not exist")
        meta_path = root / "meta.json"
        try:
            meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise UserError(
                f"{root} is not an episode folder (no meta.json); 'jedi-train collect' or 'jedi-play --record' makes one"
            ) from None
        except (OSError, ValueError) as e:
            raise UserError(f"cannot read {meta_path}: {e}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise UserError(f"{meta_path} is not a JEDI Play episode folder description")
        if meta.get("version") != VERSION:
            raise UserError(f"{root} has episode format version {meta.get('version')}, this version reads {VERSION}")
        return cls(root, str(meta["game"]), [str(m) for m in meta["action_meanings"]])

    # -- episodes --------------------------------------------------------------------------------

    def paths(self) -> list[Path]:
        """Episode files in the order they were written (temporary files are ignored)."""
        found = [(int(m.group(1)), p) for p in self.root.iterdir() if (m := _EPISODE_RE.match(p.name))]
        return [p for _, p in sorted(found)]

    def __len__(self) -> int:
        return len(self.paths())

    def append(self, episode: Episode, facts: dict[str, Any] | None = None) -> Path:
        """Write ``episode`` as the next file, then its ``facts`` beside it (JSON), atomically; returns its path."""
        if int(episode.actions.max(initial=0)) >= len(self.action_meanings) or int(episode.actions.min(initial=0)) < 0:
            raise ValueError("episode has actions outside this game's action set")
        paths = self.paths()
        index = int(_EPISODE_RE.match(paths[-1].name).group(1)) + 1 if paths else 0  # type: ignore[union-attr]
        path = self.root / f"episode_{index:06d}.npz"
        episode.save(path)
        if facts is not None:
            atomic_write_bytes(facts_path(path), json.dumps(facts, indent=2).encode())
        return path

    def __iter__(self) -> Iterator[Episode]:
        for path in self.paths():
            yield Episode.load(path)

    def load_all(self) -> list[Episode]:
        """Every episode, in the order they were written."""
        return list(self)

    def num_steps(self) -> int:
        """Total number of steps stored (reads only each file's small action array)."""
        return sum(Episode.read_length(p) for p in self.paths())
