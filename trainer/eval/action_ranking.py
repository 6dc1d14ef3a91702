"""``jedi-eval ranking``: does a world model's dream rank the actions as the real game does?

An agent trained in imagination learns which actions its dream rewards. Per-step reward fidelity
(``jedi-eval fidelity``) does not say whether those are the actions the real game rewards, and that is
what the agent needs. This measures it directly. From ``states`` real training-env states reached by the
random policy, each action is held for ``horizon`` steps twice: in the real game (the emulator restored
to the same state each time; without sticky actions the game is deterministic) and in the dream, from the
same last ``num_cond_steps`` real frames. Both returns are the sign-clipped rewards summed until a life
is lost (the dream's: expected rewards, each later step weighted by the chance the game is still on, as
imagination with ``expected`` outcomes does).

It reports each action's mean return over the states in both, the rank correlation of those means, the
rank correlation within each state, and what following the dream's choice is worth: the real return of
the action the dream rates best in each state, beside a uniformly random action's and the best action's.
With them come the action effects one step ahead (``trainer.eval.action_effects``): whether the dreamed
next state depends on the action as the real one does, and how that compares with the sampler's noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from jedi_play.cli.errors import UserError
from jedi_play.dream.dream_env import DreamEnv
from jedi_play.env.atari import AtariEnv, make_train_env
from jedi_play.hub.model_folder import LoadedModel
from jedi_play.models.world_model import WorldModel
from trainer.eval.action_effects import action_effects
from trainer.eval.start_states import StartState, random_start_states, reset_on_contexts


@dataclass
class RankingConfig:
    """Options of ``jedi-eval ranking``."""

    model: str = field(metadata={"help": "Hub repo id or local model folder", "metavar": "REPO_ID_OR_PATH"})
    states: int = field(default=64, metadata={"help": "real start states", "metavar": "N"})
    horizon: int = field(default=15, metadata={"help": "steps each action is held", "metavar": "H"})
    steps: int | None = field(default=None, metadata={"help": "denoising steps (default: the model's)", "metavar": "N"})
    batch_size: int = field(default=128, metadata={"help": "rollouts dreamed at once", "metavar": "N"})
    samples: int = field(default=4, metadata={"help": "one-step dreams of each action from each state, for the action effects", "metavar": "K"})
    seed: int = field(default=12345, metadata={"help": "seed of the random play that reaches the states"})
    json: Path | None = field(default=None, metadata={"help": "write the results to FILE", "metavar": "FILE"})


def real_returns(env: AtariEnv, states: list[StartState], horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, A) twice: each action held from each state in the real game, its sign-clipped rewards until a
    life is lost, and whether one was lost."""
    returns = np.zeros((len(states), env.action_space.n))
    ends = np.zeros_like(returns)
    for i, state in enumerate(states):
        for a in range(env.action_space.n):
            env.restore_state(state.snapshot)
            for _ in range(horizon):
                _, reward, terminated, truncated, _ = env.step(a)
                returns[i, a] += np.sign(reward)
                if terminated or truncated:
                    ends[i, a] = float(terminated)
                    break
    return returns, ends


@torch.no_grad()
def dream_returns(
    model: WorldModel,
    states: list[StartState],
    num_actions: int,
    horizon: int,
    *,
    steps: int | None,
    batch_size: int,
    seed: int,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(S, A) twice: each action held from each state's context in the dream, its expected return and the
    probability that the game ended within the horizon."""
    dream = DreamEnv(model, steps, outcomes="expected")
    dream.seed(seed)
    pairs = [(i, a) for i in range(len(states)) for a in range(num_actions)]
    returns = np.zeros((len(states), num_actions))
    ends = np.zeros_like(returns)
    for k in tqdm(range(0, len(pairs), batch_size), desc="dream", disable=not progress, dynamic_ncols=True):
        chunk = pairs[k : k + batch_size]
        reset_on_contexts(dream, states, [i for i, _ in chunk])
        actions = torch.tensor([a for _, a in chunk], device=dream.device)
        alive, total = torch.ones(len(chunk), device=dream.device), torch.zeros(len(chunk), device=dream.device)
        for _ in range(horizon):  # latents only: nothing is decoded to pixels
            _, reward, end = dream.step_states(actions)
            total += alive * reward
            alive *= 1.0 - end
        for (i, a), g, p in zip(chunk, total.tolist(), alive.tolist()):
            returns[i, a], ends[i, a] = g, 1.0 - p
    return returns, ends


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rank correlation (ties take their mean rank); None when either side is constant."""
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for value in np.unique(x):  # ties share their mean rank
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def summarize(real: np.ndarray, dream: np.ndarray, real_ends: np.ndarray, dream_ends: np.ndarray, action_meanings: list[str]) -> dict:
    """What ``jedi-eval ranking`` reports from the (S, A) real and dreamed returns and ends."""
    per_state = [spearman(r, d) for r, d in zip(real, dream)]
    ranked = [c for c in per_state if c is not None]
    chosen = real[np.arange(len(real)), dream.argmax(axis=1)]
    return {
        "actions": {
            name: {
                "real": float(real[:, a].mean()),
                "dream": float(dream[:, a].mean()),
                "real_end": float(real_ends[:, a].mean()),
                "dream_end": float(dream_ends[:, a].mean()),
            }
            for a, name in enumerate(action_meanings)
        },
        "rank_correlation_of_means": spearman(real.mean(axis=0), dream.mean(axis=0)),
        "rank_correlation_per_state": float(np.mean(ranked)) if ranked else None,
        "states_with_distinct_real_returns": len(ranked),
        "real_return": {
            "dream_choice": float(chosen.mean()),
            "random_action": float(real.mean()),
            "best_action": float(real.max(axis=1).mean()),
        },
    }


def run_ranking(config: RankingConfig, loaded: LoadedModel) -> dict:
    """Reach the states, hold every action in the real game and in the dream, and summarize."""
    for name, least in (("states", 1), ("horizon", 1), ("batch_size", 1), ("samples", 2)):
        if getattr(config, name) < least:
            raise UserError(f"--{name.replace('_', '-')} must be at least {least}, got {getattr(config, name)}")
    if config.steps is not None and config.steps < 1:
        raise UserError(f"--steps must be at least 1, got {config.steps}")
    env = make_train_env(loaded.game)
    try:
        states = random_start_states(env, config.states, loaded.world_model.num_cond_steps, config.seed)
        real, real_ends = real_returns(env, states, config.horizon)
        meanings = env.action_meanings
        effects = action_effects(
            loaded.world_model, env, states, samples=config.samples, steps=config.steps, batch_size=config.batch_size, seed=config.seed
        )
    finally:
        env.close()
    dream, dream_ends = dream_returns(
        loaded.world_model, states, len(meanings), config.horizon, steps=config.steps, batch_size=config.batch_size, seed=config.seed
    )
    summary = summarize(real, dream, real_ends, dream_ends, meanings)
    setting = {"game": loaded.game, "world_model": loaded.kind, "model": str(config.model), "states": len(states), "horizon": config.horizon}
    return {**setting, **summary, "action_effects": effects}
