"""Does the dream answer the keys where the game does? (part of ``jedi-eval playability``)

From each real start state, two different actions (Right against Left, Up against Down, FIRE against
NOOP: the pairs the game's minimal set has) are each held for ``k`` steps, in the real game (the emulator
restored to the same state; without sticky actions the game is deterministic) and in the dream from the
same context frames and with the same sampling noise for both branches. The *action-effect map* of a pair
is where, and by how much, the two branches' frames differ after ``k`` steps: the per-pixel absolute
difference, averaged over the colour channels, pixels in [0, 1].

For each ``k`` (1, 4, 8):

- ``correlation``: Pearson's correlation between the real and the dreamed maps over all their pixels,
  pooled over states and pairs (1: the dream changes the picture where and as much as the game does; 0: a
  dream that ignores the actions, whose branches stay identical);
- ``magnitude_ratio``: the dreamed maps' mean over the real maps' mean (1: the keys move as much; below 1,
  the dream answers them too weakly).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from jedi_play.dream.dream_env import DreamEnv
from jedi_play.env.atari import AtariEnv
from jedi_play.env.keymap import meaning_atoms
from jedi_play.models.world_model import WorldModel
from trainer.eval.start_states import StartState, reset_on_contexts

RESPONSE_STEPS = (1, 4, 8)
OPPOSITES = (("RIGHT", "LEFT"), ("UP", "DOWN"), ("FIRE", "NOOP"))


def action_pairs(action_meanings: Sequence[str]) -> list[tuple[int, int]]:
    """The pairs of ``OPPOSITES`` the game's minimal action set has, as action indices."""
    index = {meaning_atoms(m): i for i, m in enumerate(action_meanings)}
    atoms = lambda name: frozenset() if name == "NOOP" else frozenset({name})  # noqa: E731
    return [(index[atoms(a)], index[atoms(b)]) for a, b in OPPOSITES if atoms(a) in index and atoms(b) in index]


def real_branches(env: AtariEnv, states: list[StartState], pairs: list[tuple[int, int]], ks: Sequence[int]) -> np.ndarray:
    """(S, P, 2, len(ks), H, W, 3) uint8: the frame after holding each action of each pair ``k`` steps from each
    state (a branch that ends its game keeps its last frame)."""
    out = np.zeros((len(states), len(pairs), 2, len(ks), *states[0].frames.shape[1:]), np.uint8)
    for i, state in enumerate(states):
        for p, pair in enumerate(pairs):
            for side, action in enumerate(pair):
                env.restore_state(state.snapshot)
                frame, over = state.frames[-1], False
                for t in range(1, max(ks) + 1):
                    if not over:
                        frame, _, terminated, truncated, _ = env.step(action)
                        over = terminated or truncated
                    if t in ks:
                        out[i, p, side, ks.index(t)] = frame
    return out


@torch.no_grad()
def dream_branches(
    model: WorldModel, states: list[StartState], pairs: list[tuple[int, int]], ks: Sequence[int], *, steps: int | None, batch_size: int, seed: int
) -> np.ndarray:
    """The dream's ``real_branches``: both branches of a pair from the same context, with the same noise."""
    dream = DreamEnv(model, steps)
    jobs = [(i, p) for i in range(len(states)) for p in range(len(pairs))]
    out = np.zeros((len(states), len(pairs), 2, len(ks), *states[0].frames.shape[1:]), np.uint8)
    for c, k0 in enumerate(range(0, len(jobs), batch_size)):
        chunk = jobs[k0 : k0 + batch_size]
        for side in range(2):
            dream.seed(seed + c)  # the same noise for the two branches of each job
            reset_on_contexts(dream, states, [i for i, _ in chunk])
            actions = torch.tensor([pairs[p][side] for _, p in chunk], device=dream.device)
            for t in range(1, max(ks) + 1):
                nxt, _, _ = dream.step_states(actions)
                if t in ks:
                    frames = model.to_frames(nxt).cpu().numpy()
                    for j, (i, p) in enumerate(chunk):
                        out[i, p, side, ks.index(t)] = frames[j]
    return out


def effect_maps(branches: np.ndarray) -> Tensor:
    """(S, P, 2, K, H, W, 3) uint8 branches -> (S, P, K, H, W) maps: the two sides' mean absolute difference in [0, 1]."""
    x = torch.from_numpy(branches).float() / 255
    return (x[:, :, 0] - x[:, :, 1]).abs().mean(-1)


def response_figures(real: Tensor, dream: Tensor) -> dict[str, float | None]:
    """``correlation`` and ``magnitude_ratio`` of dreamed against real maps of any (equal) shape.

    ``correlation`` is 0 for a dream whose maps are all equal (it ignores the actions) and ``None`` (as is the
    ratio) when the real maps are: then the real game itself shows no effect to compare with.
    """
    r, d = real.flatten().double(), dream.flatten().double()
    if r.std() == 0:
        return {"correlation": None, "magnitude_ratio": None}
    corr = 0.0 if d.std() == 0 else float(torch.corrcoef(torch.stack([r, d]))[0, 1])
    return {"correlation": corr, "magnitude_ratio": float(d.mean() / r.mean())}


def action_response(
    model: WorldModel, env: AtariEnv, states: list[StartState], *, steps: int | None, batch_size: int, seed: int, ks: Sequence[int] = RESPONSE_STEPS
) -> dict:
    """The figures above at each ``k`` in ``ks``, over all pairs and for each pair, from ``states`` of ``env``."""
    ks = list(ks)
    pairs = action_pairs(env.action_meanings)
    if not pairs:
        return {"pairs": [], "states": len(states)}
    real = effect_maps(real_branches(env, states, pairs, ks))  # (S, P, K, H, W)
    dream = effect_maps(dream_branches(model, states, pairs, ks, steps=steps, batch_size=batch_size, seed=seed))
    names = [f"{env.action_meanings[a]}/{env.action_meanings[b]}" for a, b in pairs]
    result: dict = {"pairs": names, "states": len(states)}
    for j, k in enumerate(ks):
        result[str(k)] = response_figures(real[:, :, j], dream[:, :, j])
        result[str(k)]["per_pair"] = {name: response_figures(real[:, p, j], dream[:, p, j]) for p, name in enumerate(names)}
    return result
