"""Recording through ``Session``, without pygame: what each pane showed, when takes end, the F9 toggle."""

import shutil

import numpy as np
import pytest

from app_helpers import dream_outcomes
from jedi_play.app.hud import hud_lines
from jedi_play.app.modes import AUTO_RESET_FRAMES
from jedi_play.app.session import Session, default_record_folder
from jedi_play.cli.errors import UserError
from jedi_play.data.store import EpisodeStore, read_facts

UP, RIGHT, LEFT, DOWN = 1, 2, 3, 4


def recorded(folder):
    """The episodes of ``folder`` and their facts, in the order they were written."""
    store = EpisodeStore.open(folder)
    return store.load_all(), [read_facts(p) for p in store.paths()]


def test_a_dream_records_the_frames_actions_and_rewards_shown(loaded, tmp_path):
    dream_outcomes(loaded, reward=1)
    session = Session(loaded, seed=0, record=tmp_path / "rec")
    actions = [RIGHT, RIGHT, UP, LEFT, DOWN, 0]
    shown = [session.views()[0].frame.copy()]
    for action in actions:
        shown.append(session.advance(action)[0].frame.copy())
    hud = session.hud(0.0)
    assert session.close() == ["recorded episode_000000.npz: 6 steps, return 6"]
    (episode,), (facts,) = recorded(tmp_path / "rec")
    assert episode.actions.tolist() == actions
    assert np.array_equal(episode.frames, np.stack(shown)) and episode.frames.shape == (7, 64, 64, 3)
    assert episode.rewards.tolist() == [1.0] * 6 and episode.episode_return == hud.episode_return == 6
    assert not episode.terminated.any() and episode.truncated.tolist() == [False] * 5 + [True]  # stopped at quit
    assert not episode.life_loss.any()
    assert facts["format"] == "jedi-play-recording" and facts["model"] == str(loaded.path)
    assert (facts["mode"], facts["world"], facts["controllers"], facts["denoising_steps"]) == ("dream", "dream", ["person"], [3])
    assert (facts["steps"], facts["return"], facts["end"]) == (6, 6.0, "stopped")


def test_an_ended_dream_is_saved_at_once_and_the_next_one_from_its_start(loaded, tmp_path):
    dream_outcomes(loaded, reward=-1, end=True)
    session = Session(loaded, seed=1, record=tmp_path / "rec")
    session.advance(UP)
    assert session.recorder.wait() == ["recorded episode_000000.npz: 1 step, return -1"]  # saved as it ended
    for _ in range(AUTO_RESET_FRAMES):
        session.advance(UP)  # held on screen, then a new episode
    first_frame = session.views()[0].frame.copy()
    dream_outcomes(loaded, end=False)
    session.advance(DOWN)
    session.advance(LEFT)
    session.close()
    (ended, second), (facts, _) = recorded(tmp_path / "rec")
    assert len(ended) == 1 and ended.terminated.tolist() == [True] and not ended.truncated.any() and facts["end"] == "terminated"
    assert second.actions.tolist() == [DOWN, LEFT] and np.array_equal(second.frames[0], first_frame)


def test_compare_and_versus_record_each_pane(loaded, tmp_path):
    session = Session(loaded, mode="compare", seed=2, record=tmp_path / "rec")
    real_frames = [session.views()[0].frame.copy()]
    for action in (RIGHT, UP, LEFT):
        real_frames.append(session.advance(action)[0].frame.copy())
    session.set_mode("versus")
    for action in (UP, UP):
        session.advance(action)
    agent_actions = session.mode.agent_step.action
    session.close()
    episodes, facts = recorded(tmp_path / "rec")
    assert [(f["mode"], f["world"], f["pane"], f["controllers"]) for f in facts] == [
        ("compare", "real", 0, ["person"]),
        ("compare", "dream", 1, ["person"]),
        ("versus", "dream", 0, ["person"]),
        ("versus", "dream", 1, ["agent"]),
    ]
    real, dream, person, agent = episodes
    assert real.actions.tolist() == dream.actions.tolist() == [RIGHT, UP, LEFT]  # lockstep
    assert np.array_equal(real.frames, np.stack(real_frames)) and "denoising_steps" in facts[1]
    assert facts[0]["denoising_steps"] == []  # the real game has none
    assert person.actions.tolist() == [UP, UP] and agent.actions[-1] == agent_actions


def test_resync_world_switch_and_mode_switch_end_takes(loaded, tmp_path):
    session = Session(loaded, mode="compare", seed=3, record=tmp_path / "rec")
    session.advance(RIGHT)
    session.advance(RIGHT)
    session.resync()  # the dream's frame jumps: its take ends, the next starts from the re-synced frame
    resynced = session.views()[1].frame.copy()
    for action in (UP, UP, UP):
        session.advance(action)
    session.set_mode("dream")
    session.advance(LEFT)
    session.toggle_world()  # now the real game, from where compare mode left it
    session.advance(DOWN)
    session.close()
    episodes, facts = recorded(tmp_path / "rec")
    assert [(len(e), f["mode"], f["world"]) for e, f in zip(episodes, facts)] == [
        (2, "compare", "dream"),
        (5, "compare", "real"),
        (3, "compare", "dream"),
        (1, "dream", "dream"),
        (1, "dream", "real"),
    ]
    assert np.array_equal(episodes[2].frames[0], resynced)
    assert np.array_equal(episodes[4].frames[0], episodes[1].frames[-1])  # the real game went on


def test_toggle_records_into_the_default_folder(loaded, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    session = Session(loaded, seed=4)
    session.advance(UP)  # not recorded
    assert not session.recording and not hud_lines(session.hud(0))[0].startswith("REC")
    session.toggle_recording()
    folder = default_record_folder("Asterix")
    assert session.recording and session.take_notice() == f"recording into {folder}"
    assert hud_lines(session.hud(0))[0].startswith("REC   Asterix")
    session.advance(RIGHT)
    session.advance(RIGHT)
    session.toggle_recording()  # off: the take is saved
    assert not session.recording and session.take_notice() == f"recording off (1 episode recorded into {folder})"
    session.advance(LEFT)  # not recorded
    session.toggle_recording()
    session.advance(DOWN)
    session.close()
    episodes, _ = recorded(tmp_path / folder)
    assert [e.actions.tolist() for e in episodes] == [[RIGHT, RIGHT], [DOWN]]


def test_an_unfit_default_folder_is_a_notice(loaded, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    default_record_folder("Asterix").write_text("not a folder")
    session = Session(loaded, seed=5)
    session.toggle_recording()
    assert not session.recording and session.take_notice().startswith("cannot record")
    session.close()


def test_an_unfit_record_folder_is_refused(loaded, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="--record .*not a folder"):
        Session(loaded, record=tmp_path / "file")


def test_a_failed_write_is_a_notice_not_a_crash(loaded, tmp_path):
    session = Session(loaded, seed=6, record=tmp_path / "rec")
    session.advance(UP)
    shutil.rmtree(tmp_path / "rec")
    session.toggle_recording()  # off: the take is written into a folder that is gone
    lines = session.close()
    assert len(lines) == 1 and lines[0].startswith("recording failed: ") and "No such file" in lines[0]


def test_a_long_take_is_split_at_the_cap(loaded, tmp_path, monkeypatch):
    monkeypatch.setattr("jedi_play.app.recorder.MAX_TAKE_STEPS", 3)
    session = Session(loaded, seed=7, record=tmp_path / "rec")
    for _ in range(5):
        session.advance(UP)
    session.close()
    episodes, facts = recorded(tmp_path / "rec")
    assert [len(e) for e in episodes] == [3, 2] and np.array_equal(episodes[1].frames[0], episodes[0].frames[-1])
    assert episodes[0].truncated[-1] and [f["end"] for f in facts] == ["stopped", "stopped"]
