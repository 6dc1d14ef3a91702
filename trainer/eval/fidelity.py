"""``jedi-eval fidelity``: a world model's open-loop error against the real game.

From each start ``s`` of a held-out episode the model gets the real frames ``s-4 .. s-1`` and actions,
then dreams 15 steps open loop on the episode's real actions. At horizon ``h`` the dreamed frame is
compared with the real frame ``s-1+h``; the copy-last-frame baseline compares frame ``s-1`` instead.
PSNR = 10 log10(1 / MSE), the MSE taken over all frames at a horizon, pixels in [0, 1]. Horizon 0 is
the decoder's reconstruction of real frames (JEDI; DIAMOND works on pixels and has none), with the share
of small moving things (a ball) it keeps (``reconstruction_figures``).

Rewards over the same rollouts (``RewardTally``): how often the real game gives a reward, how often the
dream would draw one (imagination samples the reward model's distribution), and the probability the reward
model gives each real reward's sign, once on the real frames and once at the same step of the dream. A
dream whose rewards are much rarer than the game's teaches the agent little. (A reward model that reads the
regressed mean, ``reward_reads_mean``, reads it "on the real frames" from the real context.)

The same rollouts feed the playability tallies (``trainer.eval.open_loop_tallies``): PSNR on the pixels
that move (``moving_psnr``) and the dream's reward events and life losses against the game's (``outcomes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from jedi_play.cli.errors import UserError
from jedi_play.data.episode import Episode
from jedi_play.env.atari import make_train_env
from jedi_play.hub.model_folder import LoadedModel
from jedi_play.models.jedi import moved_pixels
from jedi_play.models.world_model import WorldModel, frames_to_tensor
from jedi_play.models.reward_end import RewardEndModel
from trainer.data.collect import Collector, make_policy
from trainer.data.store import EpisodeStore
from trainer.eval.action_response import action_response
from trainer.eval.open_loop_tallies import MovingPixelTally, OutcomeTally, psnr
from trainer.eval.start_states import random_start_states

HORIZONS = (1, 5, 15)


@dataclass
class FidelityConfig:
    """Options of ``jedi-eval fidelity``."""

    model: str = field(metadata={"help": "Hub repo id or local model folder", "metavar": "REPO_ID_OR_PATH"})
    game: str | None = field(default=None, metadata={"help": "the game the model must be for (default: the model's own)"})
    episodes: int = field(default=20, metadata={"help": "held-out episodes", "metavar": "N"})
    data: Path | None = field(default=None, metadata={"help": "episode folder to read them from (default: play new ones)", "metavar": "DIR"})
    stride: int = field(default=8, metadata={"help": "steps between rollout starts within an episode"})
    steps: int | None = field(default=None, metadata={"help": "denoising steps (default: the model's)", "metavar": "N"})
    batch_size: int = field(default=64, metadata={"help": "rollouts dreamed at once"})
    seed: int = field(default=12345, metadata={"help": "seed of newly played episodes"})
    policy: Literal["random", "person"] = field(
        default="random", metadata={"help": "who plays the new episodes: uniform random, or a person's held directions with occasional FIRE"}
    )
    states: int = field(default=32, metadata={"help": "real start states for the action response (0: skip it)", "metavar": "N"})
    json: Path | None = field(default=None, metadata={"help": "write the results to FILE", "metavar": "FILE"})


@dataclass
class PlayabilityConfig(FidelityConfig):
    """Options of ``jedi-eval playability``: ``fidelity``'s, played by a person-like policy by default."""

    episodes: int = field(default=10, metadata={"help": "held-out episodes", "metavar": "N"})
    policy: Literal["random", "person"] = field(
        default="person", metadata={"help": "who plays the new episodes and reaches the start states: a person's held directions with occasional FIRE, or uniform random"}
    )


class RewardTally:
    """Sums, over scored steps, what ``measure_fidelity`` reports of rewards."""

    def __init__(self) -> None:
        self.steps = self.events = 0
        self.dream_mass = self.recall_real = self.recall_dream = 0.0

    def add(self, true: Tensor, real_logits: Tensor, dream_logits: Tensor) -> None:
        """``true`` rewards (B,); reward logits (B, 3) from the real and the dreamed transition."""
        sign = (true.sign() + 1).long()[:, None]  # -1, 0, 1 -> class 0, 1, 2
        event = true != 0
        dream_probs = dream_logits.softmax(-1)
        self.steps += len(true)
        self.events += int(event.sum())
        self.dream_mass += (1 - dream_probs[:, 1]).sum().item()
        self.recall_real += real_logits.softmax(-1).gather(1, sign)[event].sum().item()
        self.recall_dream += dream_probs.gather(1, sign)[event].sum().item()

    def result(self) -> dict:
        return {
            "steps": self.steps,
            "events": self.events,
            "rate_real": self.events / max(self.steps, 1),
            "rate_dream": self.dream_mass / max(self.steps, 1),
            "recall_real_frames": self.recall_real / self.events if self.events else None,
            "recall_dream": self.recall_dream / self.events if self.events else None,
        }


def play_episodes(game: str, n: int, seed: int, tmp: Path, policy: str = "random") -> list[Episode]:
    """Play ``n`` training-env episodes of ``game`` with ``policy`` (fresh seeds: never seen in training)."""
    env = make_train_env(game)
    store = EpisodeStore.create(tmp, env.game.name, env.action_meanings)
    collector = Collector(env, store, seed=seed)
    player = make_policy(policy, env.action_meanings, seed)
    while len(store) < n:
        collector.run(200, player, progress=False)
    env.close()
    return store.load_all()[:n]


@torch.no_grad()
def measure_fidelity(
    model: WorldModel, episodes: list[Episode], *, stride: int = 8, steps: int | None = None, batch_size: int = 64, progress: bool = True
) -> dict:
    """PSNR of dreamed against real frames at each horizon, with the copy-last-frame baseline, and rewards."""
    n = model.num_cond_steps
    hmax = max(HORIZONS)
    starts = [(e, s) for e in episodes for s in range(n, len(e) + 1, stride)]
    sq_err = {h: 0.0 for h in range(1, hmax + 1)}
    sq_copy = {h: 0.0 for h in range(1, hmax + 1)}
    counts = {h: 0 for h in range(1, hmax + 1)}
    rewards = RewardTally()
    moving = {h: MovingPixelTally() for h in HORIZONS}
    outcomes = OutcomeTally()
    device = next(model.parameters()).device
    for i in tqdm(range(0, len(starts), batch_size), desc="fidelity", disable=not progress, dynamic_ncols=True):
        chunk = starts[i : i + batch_size]
        ctx = torch.from_numpy(np.stack([e.frames[s - n : s] for e, s in chunk])).to(device)  # (B, n, H, W, 3)
        acts = torch.from_numpy(np.stack([e.actions[s - n : s] for e, s in chunk])).to(device)
        states = model.to_states(ctx)
        real_states = states
        # the reward model's LSTM burned in on the context, as in DreamEnv; one copy follows the real frames
        _, _, dream_lstm = model.reward_end(*model.reward_window_inputs(states, acts[:, :-1]))
        real_lstm = dream_lstm
        last_real = torch.from_numpy(np.stack([e.frames[s - 1] for e, s in chunk])).float() / 255
        window = {k: torch.zeros(len(chunk), hmax) for k in ("real_reward", "dream_reward", "real_end", "dream_end", "valid")}
        for h in range(1, hmax + 1):
            alive = [j for j, (e, s) in enumerate(chunk) if s - 1 + h <= len(e)]  # real frame s-1+h exists
            if not alive:
                break
            nxt, regressed = model.sample_next(states, acts, steps)
            frames = model.to_frames(nxt).float().cpu() / 255  # (B, H, W, 3) in [0, 1]
            real = torch.from_numpy(np.stack([chunk[j][0].frames[chunk[j][1] - 1 + h] for j in alive])).float() / 255
            # the transition to frame s-1+h (past an episode's end: its last frame, not scored)
            real_next = model.to_states(torch.from_numpy(np.stack([e.frames[min(s - 1 + h, len(e))] for e, s in chunk])).to(device)[:, None])[:, 0]
            dream_logits, end_logits, dream_lstm = model.reward_end(*model.reward_step_inputs(states, acts, nxt, regressed), dream_lstm)
            real_logits, _, real_lstm = model.reward_end(*model.reward_step_inputs(real_states, acts, real_next), real_lstm)
            true = torch.tensor([float(chunk[j][0].rewards[chunk[j][1] - 2 + h]) for j in alive])
            rewards.add(true, real_logits[alive, 0].cpu(), dream_logits[alive, 0].cpu())
            dream_sign, dream_end = RewardEndModel.predictions(dream_logits[alive, 0].cpu(), end_logits[alive, 0].cpu())
            window["real_reward"][alive, h - 1] = true.sign()
            window["dream_reward"][alive, h - 1] = dream_sign
            window["real_end"][alive, h - 1] = torch.tensor([float(chunk[j][0].terminated[chunk[j][1] - 2 + h]) for j in alive])
            window["dream_end"][alive, h - 1] = dream_end.float()
            window["valid"][alive, h - 1] = 1.0
            if h in moving:
                before = torch.from_numpy(np.stack([chunk[j][0].frames[chunk[j][1] - 2 + h] for j in alive])).float() / 255
                moving[h].add(frames[alive], real, before, last_real[alive])
            real_states = torch.cat([real_states[:, 1:], real_next[:, None]], dim=1)
            sq_err[h] += (frames[alive] - real).pow(2).mean(dim=(1, 2, 3)).sum().item()
            sq_copy[h] += (last_real[alive] - real).pow(2).mean(dim=(1, 2, 3)).sum().item()
            counts[h] += len(alive)
            # the next step conditions on the dream; the real actions drive it (a no-op past an episode's end)
            next_acts = torch.tensor(
                [e.actions[s - 1 + h] if s - 1 + h < len(e) else 0 for e, s in chunk], device=device
            )
            states = torch.cat([states[:, 1:], nxt[:, None]], dim=1)
            acts = torch.cat([acts[:, 1:], next_acts[:, None]], dim=1)
        outcomes.add(window["real_reward"], window["dream_reward"], window["real_end"].bool(), window["dream_end"].bool(), window["valid"].bool())
    result = {
        "psnr": {str(h): psnr(sq_err[h] / counts[h]) for h in HORIZONS if counts[h]},
        "psnr_copy_last": {str(h): psnr(sq_copy[h] / counts[h]) for h in HORIZONS if counts[h]},
        "frames_per_horizon": {str(h): counts[h] for h in HORIZONS},
        "rewards": rewards.result(),
        "moving_psnr": {str(h): t.result() for h, t in moving.items()},
        "outcomes": outcomes.result(),
        "episodes": len(episodes),
        "rollouts": len(starts),
    }
    recon = reconstruction_figures(model, episodes)
    if recon is not None:
        result["psnr"]["0"] = recon.pop("psnr")
        result["reconstruction"] = recon
    return result


@torch.no_grad()
def reconstruction_figures(model: WorldModel, episodes: list[Episode], batch: int = 256) -> dict | None:
    """The decoder's round trip of real frames (encode, decode): the ceiling of what the dream can show.

    ``psnr`` over all frames, and how much of the small moving things survives: a pixel of frame ``t``
    that moved since frame ``t - 1`` and moves again by frame ``t + 1`` (``moved_pixels``, as the motion-weighted
    decoder loss reads it) shows something passing through, like a ball; it is ``reproduced`` where the round trip is
    nearer frame ``t`` there than frame ``t - 1``. Frame-wide PSNR hardly notices a lost ball; this does.
    None for a world model without a decoder (DIAMOND works on pixels).
    """
    if not hasattr(model, "decoder"):
        return None
    device = next(model.parameters()).device
    sq_err, frames_seen, passing, reproduced = 0.0, 0, 0, 0
    for episode in episodes:
        frames = episode.frames
        for i in range(0, len(frames), batch):
            x = torch.from_numpy(frames[i : i + batch]).to(device)
            rec = frames_to_tensor(model.to_frames(model.to_states(x[None])[0]).cpu())  # (b, 3, H, W) in [-1, 1]
            real = frames_to_tensor(x.cpu())
            sq_err += (rec - real).div(2).pow(2).mean(dim=(1, 2, 3)).sum().item()  # as pixels in [0, 1]
            frames_seen += len(x)
            t = torch.arange(max(i, 1), min(i + batch, len(frames) - 1))  # frames with both neighbours
            if len(t) == 0:
                continue
            now = real[t - i]  # (n, 3, H, W)
            before, after = (frames_to_tensor(torch.from_numpy(frames[t + k])) for k in (-1, 1))
            mask = moved_pixels(now, before) & moved_pixels(now, after)  # (n, 1, H, W)
            r = rec[t - i]
            nearer = (r - now).pow(2).sum(1, keepdim=True) < (r - before).pow(2).sum(1, keepdim=True)
            passing += int(mask.sum())
            reproduced += int((mask & nearer).sum())
    return {
        "psnr": psnr(sq_err / frames_seen),
        "passing_pixels": passing,
        "passing_pixels_reproduced": reproduced / passing if passing else None,
    }


def run_fidelity(config: FidelityConfig, loaded: LoadedModel, tmp: Path) -> dict:
    """Play (or read) the held-out episodes, measure the open-loop rollouts on them and the action response."""
    if config.episodes < 1:
        raise UserError("--episodes must be at least 1")
    if config.states < 0 or config.stride < 1 or config.batch_size < 1:
        raise UserError("--states must be at least 0, --stride and --batch-size at least 1")
    if config.data is not None:
        store = EpisodeStore.open(config.data)
        if store.game != loaded.game:
            raise UserError(f"{config.data} holds {store.game} episodes; the model is for {loaded.game}")
        episodes = store.load_all()[: config.episodes]
    else:
        episodes = play_episodes(loaded.game, config.episodes, config.seed, tmp, config.policy)
    result = measure_fidelity(loaded.world_model, episodes, stride=config.stride, steps=config.steps, batch_size=config.batch_size)
    if config.states:
        env = make_train_env(loaded.game)
        try:
            policy = make_policy(config.policy, env.action_meanings, config.seed + 1)
            states = random_start_states(env, config.states, loaded.world_model.num_cond_steps, config.seed + 1, policy)
            result["action_response"] = action_response(loaded.world_model, env, states, steps=config.steps, batch_size=config.batch_size, seed=config.seed)
        finally:
            env.close()
    setting = {"game": loaded.game, "world_model": loaded.kind, "model": str(config.model), "policy": config.policy if config.data is None else str(config.data)}
    return {**setting, **result}
