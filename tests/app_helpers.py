"""Model folders for the app tests: a tiny untrained JEDI world model and agent, and a way to script its outcomes.

The zero-initialised output layers get small random weights so that actions change the dream (a fresh
model would ignore them), except the reward and termination heads: the dream predicts no reward and no
end unless a test says otherwise (``dream_outcomes``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from jedi_play.hub import LoadedModel, save_model_folder
from jedi_play.models.actor_critic import ActorCritic, ActorCriticConfig
from jedi_play.models.jedi import JEDIConfig, JEDIWorldModel

ASTERIX_ACTIONS = ["NOOP", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT", "DOWNLEFT"]
BREAKOUT_ACTIONS = ["NOOP", "FIRE", "RIGHT", "LEFT"]


def _wake(module: torch.nn.Module, keep: tuple[str, ...] = ()) -> torch.nn.Module:
    """Small random weights in place of zero-initialised layers (but those named in ``keep``), so that every input matters."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() > 1 and not p.any() and not name.startswith(keep):
                p.normal_(std=0.05)
    return module


def tiny_world_model(num_actions: int, seed: int = 0) -> JEDIWorldModel:
    torch.manual_seed(seed)
    cfg = JEDIConfig(
        num_actions=num_actions,
        encoder_channels=(8, 8, 8, 4),
        denoiser_channels=(16,),
        denoiser_depth=1,
        decoder_channels=(16, 8, 8),
        reward_end_channels=(8, 8),
        reward_end_lstm=16,
    )
    # the reward and termination heads stay zero: the dream predicts no reward and no end (tests set them)
    return _wake(JEDIWorldModel(cfg).eval(), keep=("reward_end.reward_head", "reward_end.end_head"))


def agent_for(world_model: JEDIWorldModel, num_actions: int) -> ActorCritic:
    """A small actor-critic reading the world model's latents (a whole run's inputs, fewer channels)."""
    cfg = replace(ActorCriticConfig.for_world_model(world_model, num_actions), channels=(8, 8), lstm_dim=16)
    return _wake(ActorCritic(cfg).eval())


def write_model(folder: Path, game: str, actions: list[str], with_agent: bool = True, seed: int = 0) -> Path:
    wm = tiny_world_model(len(actions), seed)
    agent = agent_for(wm, len(actions)) if with_agent else None
    save_model_folder(folder, wm, "jedi", game, actions, f"# tiny {game} test model\n", agent=agent)
    return folder


def dream_outcomes(loaded: LoadedModel, reward: int | None = None, end: bool | None = None) -> None:
    """Make the loaded dream predict ``reward`` (-1, 0, 1) and/or ``end`` at every step, through the heads' biases."""
    heads = loaded.world_model.reward_end
    with torch.no_grad():
        if reward is not None:
            heads.reward_head.bias.zero_()
            heads.reward_head.bias[reward + 1] = 10.0
        if end is not None:
            heads.end_head.bias.copy_(torch.tensor([0.0, 10.0] if end else [10.0, 0.0]))
