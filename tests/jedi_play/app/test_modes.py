"""The four modes through ``Session``, without pygame: actions, lockstep PSNR, re-sync, versus, the switches."""

import math

import numpy as np
import pytest
import torch

from app_helpers import dream_outcomes
from jedi_play.app.modes import AUTO_RESET_FRAMES, CompareMode, SoloMode, VersusMode, psnr
from jedi_play.app.panes import DreamPane
from jedi_play.app.session import Session
from jedi_play.hub import load_model_folder

UP, RIGHT, LEFT, DOWN = 1, 2, 3, 4


def play(session, actions):
    views = None
    for action in actions:
        views = session.advance(action)
    return views


def test_dream_frames_follow_the_persons_actions(loaded):
    frames = {}
    for name, actions in {"right": [RIGHT] * 4, "right again": [RIGHT] * 4, "left": [RIGHT] * 3 + [LEFT]}.items():
        session = Session(loaded, seed=1)
        views = play(session, actions)
        assert len(views) == 1 and views[0].steps == 4
        frames[name] = views[0].frame.copy()
        session.close()
    assert np.array_equal(frames["right"], frames["right again"])  # one seed: one dream
    assert not np.array_equal(frames["right"], frames["left"])  # only the last action differs


def test_compare_psnr_is_the_dreamed_frame_against_the_real_one(loaded):
    session = Session(loaded, mode="compare", seed=2)
    mode = session.mode
    assert isinstance(mode, CompareMode)
    squared_errors = [np.mean((mode.dream.frame / 255.0 - mode.real.frame / 255.0) ** 2)]
    for action in (RIGHT, RIGHT, UP, DOWN):
        real, dream = session.advance(action)
        assert real.steps == dream.steps  # lockstep
        mse = np.mean((dream.frame.astype(np.float64) / 255.0 - real.frame.astype(np.float64) / 255.0) ** 2)
        squared_errors.append(mse)
        assert mode.psnr == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)
        assert f"PSNR {10 * math.log10(1 / mse):.1f} dB" in dream.caption
    assert mode.mean_psnr == pytest.approx(10 * math.log10(1 / np.mean(squared_errors)), rel=1e-5)
    assert mode.real.context().actions.tolist() == [RIGHT, UP, DOWN, 0]  # the real game took the same actions
    assert mode.group.env.past_actions.tolist() == [[RIGHT, UP, DOWN]]  # and so did the dream
    assert psnr(real.frame, real.frame) == math.inf
    session.close()


def test_resync_restarts_the_dream_from_the_real_game(loaded):
    session = Session(loaded, mode="compare", seed=3)
    play(session, [RIGHT] * 5)
    mode = session.mode
    session.resync()
    assert "re-synced" in session.take_notice()
    context = mode.real.context()
    with torch.no_grad():
        states = loaded.world_model.to_states(torch.as_tensor(context.frames)[None])
        decoded = loaded.world_model.to_frames(states[:, -1]).numpy()[0]
    torch.testing.assert_close(mode.group.env.states, states)
    assert np.abs(mode.dream.frame.astype(int) - decoded).max() <= 1
    assert mode.psnr == pytest.approx(psnr(mode.dream.frame, mode.real.frame))
    assert mode.dream.steps == mode.real.steps == 5
    session.close()


@pytest.mark.parametrize("ends_first", ["agent", "person"])
def test_versus_in_the_dream_scores_both_and_names_a_winner(loaded, ends_first):
    dream_outcomes(loaded, reward=1)
    session = Session(loaded, mode="versus", seed=4)
    mode = session.mode
    assert isinstance(mode, VersusMode) and mode.group is not None and mode.group.env.batch_size == 2
    mode.step_cap = 6
    you, agent = play(session, [UP, UP])
    assert (you.episode_return, agent.episode_return) == (2, 2)
    assert session.hud(0).agent_action in loaded.action_meanings
    (mode.opponent if ends_first == "agent" else mode.person).done = True  # that episode ends: its score stops
    you, agent = play(session, [UP] * 4)
    winner = "person" if ends_first == "agent" else "agent"
    assert mode.winner == winner and (you if winner == "person" else agent).caption == "WINNER"
    assert sorted([you.episode_return, agent.episode_return]) == [2, 6]
    assert ("you win" if winner == "person" else "the agent wins") in mode.detail
    frozen = you.frame.copy()
    you, _ = session.advance(DOWN)  # the match is over: nothing moves until a new match
    assert np.array_equal(you.frame, frozen) and you.steps == (6 if winner == "person" else 2)
    session.reset()
    assert mode.winner is None and mode.person.steps == 0
    session.close()


def test_versus_draw_when_both_dreams_end_alike(loaded):
    dream_outcomes(loaded, reward=0, end=True)
    session = Session(loaded, mode="versus", seed=5)
    views = session.advance(UP)
    assert session.mode.winner == "draw" and [v.caption for v in views] == ["DRAW", "DRAW"]
    session.close()


def test_versus_in_the_real_game_starts_both_from_one_state(loaded):
    session = Session(loaded, mode="versus", seed=6)
    session.toggle_world()
    mode = session.mode
    assert mode.world == "real" and "real game" in session.take_notice()
    assert np.array_equal(mode.person.frame, mode.opponent.frame)
    assert mode.person.env is not mode.opponent.env
    you, agent = session.advance(RIGHT)
    assert you.steps == agent.steps == 1 and you.title.startswith("you") and agent.title.startswith("agent")
    assert mode.person.context().actions[-2] == RIGHT
    assert mode.opponent.context().actions[-2] == mode.agent_step.action
    session.close()


def test_controller_switch_gives_the_dream_to_the_agent(loaded):
    frames = []
    for person_action in (RIGHT, LEFT):
        session = Session(loaded, seed=7)
        session.toggle_controller()
        assert session.mode.controller == "agent" and session.take_notice() == "controller: agent"
        views = play(session, [person_action] * 3)
        hud = session.hud(0)
        assert hud.controller == "agent" and hud.agent_action in loaded.action_meanings
        assert 0 <= hud.agent_entropy <= math.log(len(loaded.action_meanings)) + 1e-6
        frames.append(views[0].frame.copy())
        session.toggle_controller()
        assert session.mode.controller == "person" and session.hud(0).agent_action is None
        session.close()
    assert np.array_equal(frames[0], frames[1])  # the agent played: the person's keys did not matter


def test_world_switch_between_the_dream_and_the_real_game(loaded):
    session = Session(loaded, mode="agent", seed=8)
    mode = session.mode
    assert isinstance(mode, SoloMode) and mode.controller == "agent" and isinstance(mode.pane, DreamPane)
    session.toggle_world()
    assert mode.world == "real" and mode.pane is session.engine.real
    before = session.engine.real.steps
    views = play(session, [UP] * 3)
    assert views[0].title == "real game (agent)" and session.engine.real.steps == before + 3
    assert np.array_equal(views[0].frame, session.engine.real.env._observation())
    session.toggle_world()  # back to a dream, started from the real game's current frames
    context = session.engine.real.context()
    with torch.no_grad():
        states = loaded.world_model.to_states(torch.as_tensor(context.frames)[None])
    assert mode.world == "dream" and mode.pane.steps == 0
    torch.testing.assert_close(mode.group.env.states, states)
    session.close()


def test_modes_switch_and_denoising_steps_reach_the_dream(loaded):
    session = Session(loaded, seed=9)
    for name in ("agent", "compare", "versus", "dream"):
        session.set_mode(name)
        assert session.mode.name == name and session.take_notice() == f"mode: {name}"
        assert len(session.advance(UP)) == (2 if name in ("compare", "versus") else 1)
    session.change_denoising_steps(+1)
    session.advance(UP)
    assert session.denoising_steps == 4 and session.mode.group.env.denoising_steps == 4
    for _ in range(10):
        session.change_denoising_steps(-1)
    assert session.denoising_steps == 1 and session.hud(0).denoising_steps == 1
    session.close()


def test_a_finished_dream_episode_restarts_by_itself(loaded):
    dream_outcomes(loaded, end=True)
    session = Session(loaded, seed=10)
    views = session.advance(UP)
    assert views[0].done and views[0].caption == "episode over"
    for _ in range(AUTO_RESET_FRAMES - 1):
        views = session.advance(UP)
        assert views[0].done and views[0].steps == 1  # held on screen
    views = session.advance(UP)
    assert not views[0].done and views[0].steps == 0
    assert session.game_steps == 1  # only the first frame stepped the game; the held ones and the reset did not
    session.advance(UP)
    assert session.game_steps == 2
    session.close()


def test_a_model_without_an_agent_keeps_the_person_playing(no_agent_folder):
    loaded = load_model_folder(no_agent_folder, "Asterix")
    with pytest.raises(ValueError, match="needs an agent"):
        Session(loaded, mode="versus")
    session = Session(loaded, seed=0)
    session.set_mode("agent")
    assert session.mode.name == "dream" and "needs an agent" in session.take_notice()
    session.toggle_controller()
    assert session.mode.controller == "person" and "no agent" in session.take_notice()
    session.set_mode("compare")
    assert session.mode.name == "compare"
    session.close()
