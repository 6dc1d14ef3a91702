"""On-disk formats shared by the trainer and the app: episodes (replay data, recordings) and atomic writes."""

from jedi_play.data.atomic import atomic_write
from jedi_play.data.episode import CorruptEpisodeError, Episode, EpisodeBuilder

__all__ = ["CorruptEpisodeError", "Episode", "EpisodeBuilder", "atomic_write"]
