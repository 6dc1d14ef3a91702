"""Stepping a world model as an environment: a batched dream env and a gymnasium wrapper around it."""

from jedi_play.dream.dream_env import DreamEnv
from jedi_play.dream.gym_env import DreamGymEnv, register_dream_envs

register_dream_envs()

__all__ = ["DreamEnv", "DreamGymEnv", "register_dream_envs"]
