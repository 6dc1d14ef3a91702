"""The Atari 100k env on real ALE games: every protocol setting of REFERENCE.md section 1."""

import numpy as np
import pytest

from jedi_play.env import AtariEnv, make_eval_env, make_train_env


@pytest.fixture(scope="module")
def asterix_train():
    env = make_train_env("Asterix")
    yield env
    env.close()


def test_observation_is_64x64_rgb_uint8(asterix_train):
    obs, info = asterix_train.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert asterix_train.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = asterix_train.step(0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert obs.max() > obs.min()  # a real picture, not a blank frame
    assert isinstance(reward, float) and isinstance(terminated, bool) and isinstance(truncated, bool)


def test_no_sticky_actions_and_single_inner_frame_skip(asterix_train):
    assert asterix_train.ale.getFloat("repeat_action_probability") == 0.0
    assert asterix_train._env.unwrapped._frameskip == 1  # our frame skip is the only one


def test_frame_skip_is_4(asterix_train):
    _, info = asterix_train.reset(seed=1)
    before = info["episode_frame_number"]
    _, _, _, _, info = asterix_train.step(0)
    assert info["episode_frame_number"] - before == 4


def test_minimal_action_set(asterix_train):
    assert asterix_train.action_space.n == 9
    assert asterix_train.action_meanings[0] == "NOOP"


def test_noop_starts_differ_between_seeds_and_repeat_within_one(asterix_train):
    noops, frames = [], []
    for seed in range(8):
        obs, info = asterix_train.reset(seed=seed)
        noops.append(info["noops"])
        frames.append(obs)
    assert all(1 <= n <= 30 for n in noops)
    assert len(set(noops)) > 1
    assert any(not np.array_equal(frames[0], f) for f in frames[1:])
    obs, info = asterix_train.reset(seed=3)
    assert info["noops"] == noops[3] and np.array_equal(obs, frames[3])


def _play_until(env, stop, seed=0, max_steps=5000):
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    for _ in range(max_steps):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        if stop(terminated, truncated, info):
            return terminated, truncated, info
    raise AssertionError("condition never reached")


def test_life_loss_ends_a_training_episode(asterix_train):
    terminated, truncated, info = _play_until(asterix_train, lambda te, tr, i: te or tr)
    assert terminated and not truncated
    assert info["life_loss"] and not info["game_over"]
    assert info["lives"] > 0  # the game itself goes on: only the training episode ended


def test_life_loss_does_not_end_an_evaluation_episode():
    env = make_eval_env("Asterix")
    terminated, truncated, info = _play_until(env, lambda te, tr, i: i["life_loss"] or te or tr)
    assert info["life_loss"] and not terminated and not truncated
    terminated, truncated, info = _play_until(env, lambda te, tr, i: te or tr)
    assert terminated and info["game_over"] and info["lives"] == 0
    env.close()


def test_episode_cap_truncates():
    env = AtariEnv("Pong", max_episode_frames=400)
    terminated, truncated, info = _play_until(env, lambda te, tr, i: te or tr, max_steps=200)
    assert truncated and not terminated
    assert info["episode_frame_number"] <= 400
    env.close()


def test_clone_and_restore_replays_identically(asterix_train):
    asterix_train.reset(seed=5)
    state = asterix_train.clone_state()
    actions = [1, 2, 3, 4, 5, 6, 7, 8] * 3
    first = [asterix_train.step(a)[0] for a in actions]
    asterix_train.restore_state(state)
    second = [asterix_train.step(a)[0] for a in actions]
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
