"""What each action does one step ahead, in the real game and in the dream (part of ``jedi-eval ranking``).

A dream can only teach an agent which actions are worth taking if what it dreams depends on the action.
From each real start state every action is taken once in the real game (the emulator restored each
time) and dreamed ``samples`` times from the same context; both next states are compared in the world
model's own state space (latents for JEDI, frames for DIAMOND):

- ``real_spread``: how far the real next state moves with the action, the RMS over states, actions and
  state elements of its deviation from the mean over actions at the same start state;
- ``dream_spread``: the same of the dream's mean over its samples;
- ``dream_noise``: how far one dreamed sample lies from that mean (the sampler's own randomness, which an
  agent cannot tell from the action's effect);
- ``alignment``: the cosine, averaged over start states, between the real and the dreamed deviations
  from the mean over actions (1: the dream moves each action's outcome the way the game does; 0: unrelated);
- ``explained``: ``1 - |real_dev - dream_dev|^2 / |real_dev|^2``, the share of the real action effects the
  dream reproduces (negative when its action effects are wrong enough to add error).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from jedi_play.dream.dream_env import DreamEnv
from jedi_play.env.atari import AtariEnv
from jedi_play.models.world_model import WorldModel
from trainer.eval.start_states import StartState, reset_on_contexts


def real_next_frames(env: AtariEnv, states: list[StartState]) -> np.ndarray:
    """(S, A, H, W, 3) uint8: the frame after each action taken once from each state (the same frame if it ends the game)."""
    frames = []
    for state in states:
        row = []
        for a in range(env.action_space.n):
            env.restore_state(state.snapshot)
            obs, _, terminated, truncated, _ = env.step(a)
            row.append(state.frames[-1] if terminated or truncated else obs)
        frames.append(np.stack(row))
    return np.stack(frames)


@torch.no_grad()
def dreamed_next_states(
    model: WorldModel, states: list[StartState], num_actions: int, samples: int, *, steps: int | None, batch_size: int, seed: int
) -> Tensor:
    """(S, A, K, ...) states: ``samples`` (K) one-step dreams of each action from each state's context."""
    dream = DreamEnv(model, steps)
    dream.seed(seed)
    jobs = [(i, a) for i in range(len(states)) for a in range(num_actions) for _ in range(samples)]
    out = []
    for k in range(0, len(jobs), batch_size):
        chunk = jobs[k : k + batch_size]
        reset_on_contexts(dream, states, [i for i, _ in chunk])
        nxt, _, _ = dream.step_states(torch.tensor([a for _, a in chunk], device=dream.device))
        out.append(nxt.float().cpu())
    return torch.cat(out).unflatten(0, (len(states), num_actions, samples))


def effect_figures(real: Tensor, dreamed: Tensor) -> dict[str, float]:
    """The figures above from real next states ``(S, A, ...)`` and dreamed ones ``(S, A, K, ...)``, K >= 2."""
    s, a, k = dreamed.shape[:3]
    real, dreamed = real.reshape(s, a, -1).double(), dreamed.reshape(s, a, k, -1).double()
    dream_mean = dreamed.mean(2)
    real_dev = real - real.mean(1, keepdim=True)  # (S, A, D)
    dream_dev = dream_mean - dream_mean.mean(1, keepdim=True)
    rms = lambda x: float(x.pow(2).mean().sqrt())  # noqa: E731
    noise = (dreamed - dream_mean[:, :, None]).pow(2).mean() * k / (k - 1)  # unbiased variance of one sample
    norms = real_dev.flatten(1).norm(dim=1) * dream_dev.flatten(1).norm(dim=1)
    cos = (real_dev * dream_dev).flatten(1).sum(1) / norms.clamp_min(1e-12)
    return {
        "real_spread": rms(real_dev),
        "dream_spread": rms(dream_dev),
        "dream_noise": float(noise.sqrt()),
        "alignment": float(cos[norms > 0].mean()) if bool((norms > 0).any()) else float("nan"),
        "explained": float(1 - (real_dev - dream_dev).pow(2).sum() / real_dev.pow(2).sum().clamp_min(1e-24)),
    }


@torch.no_grad()
def action_effects(
    model: WorldModel, env: AtariEnv, states: list[StartState], *, samples: int, steps: int | None, batch_size: int, seed: int
) -> dict[str, float]:
    """Take every action once from each state in the real game and dream it ``samples`` times; the figures above."""
    frames = real_next_frames(env, states)  # (S, A, H, W, 3)
    device = next(model.parameters()).device
    real = model.to_states(torch.from_numpy(frames).flatten(0, 1)[:, None].to(device))[:, 0].float().cpu()
    real = real.unflatten(0, frames.shape[:2])  # (S, A, ...)
    dreamed = dreamed_next_states(model, states, env.action_space.n, samples, steps=steps, batch_size=batch_size, seed=seed)
    return {"samples": samples, **effect_figures(real, dreamed)}
