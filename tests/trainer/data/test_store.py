"""The trainer reads and writes the app's episode folder class (``jedi_play.data.store``), re-exported."""

import jedi_play.data.store
import trainer.data
import trainer.data.store


def test_trainer_re_exports_the_episode_folder():
    assert trainer.data.EpisodeStore is trainer.data.store.EpisodeStore is jedi_play.data.store.EpisodeStore
