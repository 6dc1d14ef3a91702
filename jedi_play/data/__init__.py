"""On-disk formats shared by the trainer and the app: episodes and episode folders (replay data, recordings),
atomic writes."""

from jedi_play.data.atomic import atomic_write
from jedi_play.data.episode import CorruptEpisodeError, Episode, EpisodeBuilder
from jedi_play.data.store import EpisodeStore

__all__ = ["CorruptEpisodeError", "Episode", "EpisodeBuilder", "EpisodeStore", "atomic_write"]
