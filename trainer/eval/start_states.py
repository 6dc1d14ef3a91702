"""Real start states for ``jedi-eval ranking`` and ``playability``: emulator snapshots reached by random (or
a given policy's) play, with the context frames a dream starts from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from jedi_play.dream.dream_env import DreamEnv
from jedi_play.env.atari import AtariEnv
from trainer.data.collect import Policy


@dataclass
class StartState:
    """A real state to hold each action from: the emulator snapshot and the context the dream starts on."""

    snapshot: tuple
    frames: np.ndarray  # (n, H, W, 3) uint8, the last one the current observation
    actions: np.ndarray  # (n,) the actions taken on them (the last one unused by the dream)


def random_start_states(env: AtariEnv, count: int, context: int, seed: int, policy: Policy | None = None) -> list[StartState]:
    """``count`` states of random play (or of ``policy``'s), each at least ``context`` frames into its episode, a few steps apart."""
    rng = np.random.default_rng(seed)
    found: list[StartState] = []
    episode = 0
    while len(found) < count:
        obs, _ = env.reset(seed=seed + episode)
        episode += 1
        if policy is not None:
            policy.reset()
        frames, actions = [obs], []
        wait = int(rng.integers(context, context + 40))
        while len(found) < count:
            if len(frames) >= wait:
                taken = actions[len(actions) - context + 1 :] + [0]  # on the window's frames; the last one is the dream's to choose
                found.append(StartState(env.clone_state(), np.stack(frames[-context:]), np.array(taken)))
                wait = len(frames) + int(rng.integers(10, 40))
            action = int(rng.integers(env.action_space.n)) if policy is None else policy(obs)
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
            frames.append(obs)
            actions.append(action)
    return found


def reset_on_contexts(dream: DreamEnv, states: list[StartState], indices: list[int]) -> None:
    """Reset ``dream`` (in tensors, nothing decoded) on the contexts of ``states[i]`` for each ``i`` in ``indices``."""
    frames = torch.from_numpy(np.stack([states[i].frames for i in indices])).to(dream.device)
    dream.reset_states(frames, torch.from_numpy(np.stack([states[i].actions for i in indices])).to(dream.device))
