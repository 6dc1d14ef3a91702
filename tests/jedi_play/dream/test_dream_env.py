"""The dream env on both world models, and its gymnasium wrapper under gymnasium's env checker."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from jedi_play.dream import DreamEnv, DreamGymEnv
from jedi_play.hub import load_model_folder, save_model_folder
from jedi_play.models.diamond import DIAMONDConfig, DIAMONDWorldModel
from jedi_play.models.jedi import JEDIConfig, JEDIWorldModel


def untrained(kind):
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=4)) if kind == "jedi" else DIAMONDWorldModel(DIAMONDConfig(num_actions=4))
    with torch.no_grad():  # zero-initialised output layers would make every input irrelevant
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(std=0.05)
    return model


@pytest.mark.parametrize("kind", ["jedi", "diamond"])
def test_reset_and_step_a_batch(kind):
    env = DreamEnv(untrained(kind))
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 4, 64, 64, 3), dtype=np.uint8)
    first = env.reset(frames, np.zeros((2, 4), np.int64))
    assert first.shape == (2, 64, 64, 3) and first.dtype == np.uint8
    env.seed(0)
    out, rewards, ends = env.step([0, 3])
    assert out.shape == (2, 64, 64, 3) and out.dtype == np.uint8
    assert rewards.shape == (2,) and set(np.unique(rewards)) <= {-1.0, 0.0, 1.0}
    assert ends.shape == (2,) and ends.dtype == bool


@pytest.mark.parametrize("kind", ["jedi", "diamond"])
def test_actions_change_the_dream(kind):
    env = DreamEnv(untrained(kind))
    frames = np.random.default_rng(1).integers(0, 256, (1, 4, 64, 64, 3), dtype=np.uint8)
    outs = []
    for action in (0, 3):
        env.reset(frames, np.zeros((1, 4), np.int64))
        env.seed(7)  # same noise: only the action differs
        outs.append(env.step([action])[0])
    assert not np.array_equal(outs[0], outs[1])


def test_expected_outcomes_are_the_means_of_the_drawn_ones():
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=4, denoiser_channels=(16,), reward_end_channels=(8, 8), reward_end_lstm=16))
    with torch.no_grad():
        for head in (model.reward_end.reward_head, model.reward_end.end_head, model.denoiser.inner.conv_out):
            head.weight.normal_(std=0.3)
    n = 4000
    frames = np.random.default_rng(2).integers(0, 256, (1, 4, 64, 64, 3), dtype=np.uint8).repeat(n, axis=0)
    draws = []
    for outcomes in ("expected", "sample"):
        env = DreamEnv(model, outcomes=outcomes)
        env.reset(frames, np.zeros((n, 4), np.int64))
        draws.append(env.step(np.ones(n, np.int64))[1:])
    (mean_reward, p_end), (rewards, ends) = draws
    assert mean_reward.dtype == np.float32 and p_end.dtype == np.float32 and ((p_end > 0) & (p_end < 1)).all()
    # each game's next latent is its own sample, so the expectations vary a little between games
    assert abs(rewards.mean() - mean_reward.mean()) < 4 * rewards.std() / np.sqrt(len(rewards)) + 1e-3
    assert abs(ends.mean() - p_end.mean()) < 4 * ends.std() / np.sqrt(len(ends)) + 1e-3


def test_a_reward_read_from_the_regressed_mean_ignores_the_sampled_next_latent():
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=4, denoiser_channels=(16,), mean_predictor_channels=(16,), reward_reads_mean=True))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(std=0.3)
    frames = np.random.default_rng(3).integers(0, 256, (2, 4, 64, 64, 3), dtype=np.uint8)
    env = DreamEnv(model, outcomes="expected")
    outcomes = []
    for seed in (1, 2):  # other sampling noise, so another next latent
        env.reset(frames, np.zeros((2, 4), np.int64))
        env.seed(seed)
        out, reward, end = env.step([1, 2])
        outcomes.append((out, reward, end))
    assert not np.array_equal(outcomes[0][0], outcomes[1][0])
    np.testing.assert_allclose(outcomes[0][1], outcomes[1][1], rtol=1e-5)
    np.testing.assert_allclose(outcomes[0][2], outcomes[1][2], rtol=1e-5)
    env.reset(frames, np.zeros((2, 4), np.int64))
    assert not np.allclose(env.step([3, 0])[1], outcomes[0][1])  # but the action matters


def test_unknown_outcomes_are_refused():
    with pytest.raises(ValueError, match="outcomes"):
        DreamEnv(untrained("diamond"), outcomes="mode")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dream") / "model"
    save_model_folder(folder, untrained("jedi"), "jedi", "Breakout", ["NOOP", "FIRE", "RIGHT", "LEFT"], "# test model\n")
    return folder


def test_gymnasium_env_checker(model_folder):
    env = DreamGymEnv("Breakout", load_model_folder(model_folder), max_episode_steps=5)
    check_env(env)
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated:
            break
    assert truncated or terminated
    env.close()


def test_registered_per_game(model_folder):
    env = gym.make("JEDIPlay/Breakout-dream-v0", model=str(model_folder))
    obs, _ = env.reset(seed=1)
    assert obs.shape == (64, 64, 3)
    assert {f"JEDIPlay/{g}-dream-v0" for g in ("Asterix", "Pong", "UpNDown")} <= set(gym.registry)
    env.close()
