"""The actor-critic's input normalisation: layer norm (the first agents) or the world model's running statistics."""

import pytest
import torch

from jedi_play.models.actor_critic import ActorCritic, ActorCriticConfig
from jedi_play.models.jedi import JEDIConfig, JEDIWorldModel


def test_a_standardising_agent_sees_states_through_the_statistics_it_was_handed():
    torch.manual_seed(0)
    agent = ActorCritic(ActorCriticConfig(9, in_channels=16, size=8, standardize_input=True))
    torch.nn.init.normal_(agent.policy_head.weight)  # zero-initialised: give the policy an output
    mean, std = torch.randn(16, 8, 8), torch.tensor(0.01)
    z = mean + std * torch.randn(4, 16, 8, 8)
    agent.set_input_statistics(mean, std)
    logits = agent(z)[0]
    agent.set_input_statistics(3 * mean + 1, 3 * std)  # the same states, rescaled and shifted with their statistics
    torch.testing.assert_close(agent(3 * z + 1)[0], logits)
    assert not torch.allclose(logits[0], logits[1], atol=1e-3)  # states 1% apart around a fixed pattern: different policies


def test_layer_norm_leaves_a_drifted_latents_differences_a_small_share_of_the_input():
    torch.manual_seed(0)
    mean = torch.randn(16, 8, 8)
    z = mean + 0.01 * torch.randn(64, 16, 8, 8)
    layer_normed = torch.nn.functional.group_norm(z, 1)
    assert layer_normed.var(0).mean() / layer_normed.pow(2).mean() < 1e-3  # why agents standardise instead
    agent = ActorCritic(ActorCriticConfig(9, in_channels=16, size=8, standardize_input=True))
    agent.set_input_statistics(mean, torch.tensor(0.01))
    standardized = (z - agent.input_mean) / agent.input_std
    assert standardized.var(0).mean() / standardized.pow(2).mean() > 0.9


@pytest.mark.parametrize("latent_norm", [False, True])
def test_a_jedi_agent_standardises_where_its_world_model_keeps_statistics(latent_norm):
    world_model = JEDIWorldModel(JEDIConfig(num_actions=9, denoiser_channels=(16,), latent_norm=latent_norm))
    cfg = ActorCriticConfig.for_world_model(world_model, 9)
    assert (cfg.standardize_input, cfg.normalize_input) == (latent_norm, not latent_norm)
    agent = ActorCritic(cfg)
    if latent_norm:
        world_model.latent_std.fill_(0.02)
    agent.sync_input_statistics(world_model)
    if latent_norm:
        assert float(agent.input_std) == pytest.approx(0.02)
    assert set(agent.state_dict()) >= ({"input_mean", "input_std"} if latent_norm else set())
