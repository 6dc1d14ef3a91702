"""The panes' games: the real game's context, dream slots stepping together, freezing at the end, re-sync."""

import numpy as np
import torch

from app_helpers import dream_outcomes
from jedi_play.app.panes import DreamGroup, RealPane


def test_real_pane_keeps_the_context_a_dream_starts_from():
    pane = RealPane("Asterix", 4)
    first = pane.reset(seed=3)
    context = pane.context()
    assert context.frames.shape == (4, 64, 64, 3) and context.frames.dtype == np.uint8
    assert np.array_equal(context.frames[-1], first)
    assert context.actions.tolist() == [0, 0, 0, 0]  # NOOPs fill the context; the last is a placeholder
    assert pane.steps == 0 and pane.episode_return == 0.0
    for action in (2, 3, 1):
        step = pane.step(action)
    context = pane.context()
    assert context.actions.tolist() == [2, 3, 1, 0]  # actions[j] was taken on frames[j]
    assert np.array_equal(context.frames[-1], step.frame) and np.array_equal(pane.frame, step.frame)
    assert pane.steps == 3
    pane.close()


def test_real_panes_with_one_seed_start_alike_and_actions_change_them():
    a, b = RealPane("Asterix", 4), RealPane("Asterix", 4)
    assert np.array_equal(a.reset(seed=5), b.reset(seed=5))
    for _ in range(8):
        a.step(2)  # RIGHT
        b.step(3)  # LEFT
    assert not np.array_equal(a.frame, b.frame)
    a.close()
    b.close()


def test_finished_real_episode_stays_frozen():
    pane = RealPane("Asterix", 4)
    pane.reset(seed=0)
    pane.step(1)
    pane.done = True
    frame = pane.frame.copy()
    step = pane.step(2)
    assert step.done and step.reward == 0.0 and np.array_equal(step.frame, frame) and pane.steps == 1
    pane.close()


def _context(seed=0):
    pane = RealPane("Asterix", 4)
    pane.reset(seed=seed)
    pane.step(2)
    context = pane.context()
    pane.close()
    return context


def test_dream_slots_follow_their_actions(loaded):
    context = _context()
    outs = {}
    for name, actions in {"a": [2, 2], "a again": [2, 2], "b": [3, 2]}.items():
        group = DreamGroup(loaded.world_model, 2, 3, seed=11)
        group.reset(context)
        steps = group.step(actions)
        outs[name] = [s.frame.copy() for s in steps]
        assert [p.steps for p in group.panes] == [1, 1]
    assert np.array_equal(outs["a"][0], outs["a again"][0])  # same seed, same action: the same dream
    assert not np.array_equal(outs["a"][0], outs["b"][0])  # another action: another frame
    assert np.array_equal(outs["a"][1], outs["b"][1])  # the other slot's action was the same


def test_dream_end_freezes_a_slot_unless_told_to_go_on(loaded):
    dream_outcomes(loaded, reward=1, end=True)
    context = _context()
    for stop_at_end, expected_steps in ((True, 1), (False, 3)):
        group = DreamGroup(loaded.world_model, 1, 2, seed=0, stop_at_end=stop_at_end)
        group.reset(context)
        for _ in range(3):
            group.step([0])
        pane = group.panes[0]
        assert pane.done and pane.steps == expected_steps and pane.episode_return == expected_steps


def test_resync_replaces_the_dream_context_with_the_real_one(loaded):
    group = DreamGroup(loaded.world_model, 1, 1, seed=0)
    group.reset(_context(0))
    for _ in range(3):
        group.step([4])
    real = _context(7)
    frame = group.resync(0, real)
    with torch.no_grad():
        expected = loaded.world_model.to_states(torch.as_tensor(real.frames)[None])
        decoded = loaded.world_model.to_frames(expected[:, -1]).numpy()[0]
    torch.testing.assert_close(group.env.states, expected)
    assert group.env.past_actions.tolist() == [real.actions[:3].tolist()]
    assert np.abs(frame.astype(int) - decoded).max() <= 1 and np.array_equal(group.panes[0].frame, frame)
    assert group.panes[0].steps == 3  # the counters go on
