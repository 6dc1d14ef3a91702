"""The episode folder; it lives in ``jedi_play.data.store`` (the app records into it too) and is re-exported here."""

from jedi_play.data.store import FORMAT, VERSION, EpisodeStore

__all__ = ["FORMAT", "VERSION", "EpisodeStore"]
