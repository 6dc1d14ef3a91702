"""The episode folder: appending, reading back in order, refusing foreign or damaged data."""

import json

import numpy as np
import pytest

from jedi_play.cli.errors import UserError
from jedi_play.data import CorruptEpisodeError
from jedi_play.data.store import EpisodeStore

MEANINGS = ["NOOP", "FIRE", "RIGHT", "LEFT"]


def test_append_and_read_back_in_order(tmp_path, episode_factory):
    store = EpisodeStore.create(tmp_path / "d", "Breakout", MEANINGS)
    for tag in range(3):
        store.append(episode_factory(5 + tag, tag=tag))
    again = EpisodeStore.open(tmp_path / "d")
    assert again.game == "Breakout" and again.action_meanings == MEANINGS
    episodes = again.load_all()
    assert [len(e) for e in episodes] == [5, 6, 7]
    assert [e.rewards[0] for e in episodes] == [0, 100, 200]
    assert again.num_steps() == 18


def test_stray_temporary_files_are_ignored(tmp_path, episode_factory):
    store = EpisodeStore.create(tmp_path, "Breakout", MEANINGS)
    store.append(episode_factory(4))
    (tmp_path / ".episode_000001.npz.tmp-123-abcd").write_bytes(b"PK half written")
    assert len(store) == 1 and store.num_steps() == 4
    path = store.append(episode_factory(3))
    assert path.name == "episode_000001.npz"
    assert [len(e) for e in store] == [4, 3]


def test_extending_with_another_game_is_refused(tmp_path):
    EpisodeStore.create(tmp_path, "Breakout", MEANINGS)
    with pytest.raises(UserError, match="holds Breakout episodes, not Pong"):
        EpisodeStore.create(tmp_path, "Pong", ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"])


def test_non_episode_folders_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        EpisodeStore.create(tmp_path, "Breakout", MEANINGS)
    assert (tmp_path / "notes.txt").read_text() == "mine"  # nothing of the user's was touched
    with pytest.raises(UserError, match="does not exist"):
        EpisodeStore.open(tmp_path / "missing")
    with pytest.raises(UserError, match="no meta.json"):
        EpisodeStore.open(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(UserError, match="not a JEDI Play episode folder"):
        EpisodeStore.open(tmp_path)


def test_damaged_episode_is_reported_by_name(tmp_path, episode_factory):
    store = EpisodeStore.create(tmp_path, "Breakout", MEANINGS)
    path = store.append(episode_factory(4))
    path.write_bytes(b"garbage")
    with pytest.raises(CorruptEpisodeError, match="episode_000000.npz"):
        store.load_all()


def test_actions_outside_the_action_set_are_refused(tmp_path, episode_factory):
    store = EpisodeStore.create(tmp_path, "Breakout", MEANINGS)
    ep = episode_factory(4)
    ep.actions[:] = np.array([0, 1, 2, 9])
    with pytest.raises(ValueError):
        store.append(ep)


def test_check_names_the_option_and_writes_nothing(tmp_path, episode_factory):
    assert EpisodeStore.check(tmp_path / "new", "Breakout", "--record") is None and not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="--record .*file: exists and is not a folder"):
        EpisodeStore.check(tmp_path / "file", "Breakout", "--record")
    EpisodeStore.create(tmp_path / "d", "Breakout", MEANINGS).append(episode_factory(2))
    assert len(EpisodeStore.check(tmp_path / "d", "Breakout")) == 1
    with pytest.raises(UserError, match="holds Breakout episodes, not Pong; choose another --record folder"):
        EpisodeStore.check(tmp_path / "d", "Pong", "--record")
    with pytest.raises(UserError, match="another action set"):
        EpisodeStore.create(tmp_path / "d", "Breakout", ["NOOP", "FIRE"])
