"""Segment sampling: shapes, contents, padding masks at episode starts, and the recency weights."""

import numpy as np
import pytest

from trainer.data import SegmentSampler


@pytest.fixture
def sampler(episode_factory):
    # three episodes of 10, 6 and 4 steps: 20 transitions
    return SegmentSampler(4, [episode_factory(n, tag=t) for t, n in enumerate((10, 6, 4))], seed=0)


def test_shapes(sampler):
    seg = sampler.sample(32)
    assert seg.frames.shape == (32, 5, 8, 8, 3) and seg.frames.dtype == np.uint8
    for name in ("actions", "rewards", "terminated", "truncated", "life_loss"):
        assert getattr(seg, name).shape == (32, 4)
    assert seg.mask.shape == (32, 5) and seg.mask.dtype == bool


def test_contents_and_padding_at_episode_start(sampler):
    # global index 0 is the first transition of episode 0: frames -3..1, of which 0 and 1 are real
    seg = sampler.segments_at(np.array([0, 9, 10, 19]))
    assert seg.mask[0].tolist() == [False, False, False, True, True]
    assert seg.frames[0, :, 0, 0, 0].tolist() == [0, 0, 0, 0, 1]
    assert seg.actions[0].tolist() == [0, 0, 0, 0] and seg.rewards[0].tolist() == [0, 0, 0, 0]
    # index 9 is episode 0's last transition: frames 6..10, steps 6..9, the last one terminal
    assert seg.mask[1].all()
    assert seg.frames[1, :, 0, 0, 0].tolist() == [6, 7, 8, 9, 10]
    assert seg.rewards[1].tolist() == [6, 7, 8, 9] and seg.terminated[1].tolist() == [False] * 3 + [True]
    # index 10 starts episode 1 (tag 1: frame values 50 + t): never crosses into episode 0
    assert seg.mask[2].tolist() == [False, False, False, True, True]
    assert seg.frames[2, 3:, 0, 0, 0].tolist() == [50, 51]
    assert seg.rewards[2, 3] == 100
    # index 19 is the last transition of episode 2 (4 steps): frames 0..4 all real
    assert seg.mask[3].all() and seg.frames[3, :, 0, 0, 0].tolist() == [100, 101, 102, 103, 104]


def test_padding_matches_the_mask_everywhere(sampler):
    seg = sampler.sample(256)
    assert (seg.frames[~seg.mask] == 0).all()
    assert seg.mask[:, -2:].all()  # the target frame and the one before it are always real
    steps = seg.mask[:, :-1]
    assert (seg.rewards[~steps] == 0).all() and (seg.actions[~steps] == 0).all()
    # a mask is False then True: padding only at the start
    assert (np.diff(seg.mask.astype(int), axis=1) >= 0).all()


def test_recency_weights(sampler):
    w = sampler.transition_weights()
    assert w.shape == (20,) and w.sum() == pytest.approx(1.0)
    assert w[-5:].sum() == pytest.approx(0.7)  # newest quarter of 20 transitions
    assert np.allclose(w[:15], 0.3 / 15) and np.allclose(w[15:], 0.7 / 5)


def test_sampling_frequencies_follow_the_weights(sampler):
    idx = sampler.sample_indices(200_000)
    freq = np.bincount(idx, minlength=20) / len(idx)
    np.testing.assert_allclose(freq, sampler.transition_weights(), atol=0.004)


def test_new_episodes_become_the_recent_data(sampler, episode_factory):
    sampler.add(episode_factory(20, tag=3))
    w = sampler.transition_weights()
    assert len(w) == 40 and w[-10:].sum() == pytest.approx(0.7) and w[-11] < w[-10]


def test_tiny_replay_is_uniform(episode_factory):
    s = SegmentSampler(4, [episode_factory(2)], seed=0)
    assert np.allclose(s.transition_weights(), [0.3, 0.7])  # 1 old, 1 recent transition
    s1 = SegmentSampler(4, [episode_factory(1)], seed=0)
    assert s1.transition_weights().tolist() == [1.0]
    assert s1.sample(3).mask[:, -2:].all()
