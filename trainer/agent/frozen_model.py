"""A fresh actor-critic (or the folder's own, trained further) trained against a frozen model folder: on
real rollouts (a baseline) or in its dream.

The same network, loss (``actor_critic_loss``: REINFORCE with a value baseline on lambda-returns, an
entropy bonus), batch, horizon and learning rate as in a whole run, with the folder's world model
frozen; the agent reads its states (the encoder's latents for JEDI). With ``rollouts="real"`` each
batch of ``horizon`` steps is played in ``batch_size`` real training envs (a lost life ends a game,
which starts again at once) with their true sign-clipped rewards: not JEDI or DIAMOND, but what an
agent learns in as many updates with a perfect world model. With ``rollouts="dream"`` the games are
imagined from real contexts of an episode folder, as in a whole run. The two side by side tell the
agent's budget apart from the world model's quality.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from jedi_play.agent.player import AgentPlayer
from jedi_play.cli.errors import UserError
from jedi_play.cli.parser import option_text
from jedi_play.data.atomic import atomic_write_bytes
from jedi_play.data.store import EpisodeStore
from jedi_play.dream.dream_env import DreamEnv
from jedi_play.env.atari import AtariEnv, make_train_env
from jedi_play.hub.model_folder import load_model_folder, save_model_folder
from jedi_play.hub.weight_codec import WeightsDType
from jedi_play.models.actor_critic import ActorCritic, ActorCriticConfig, LSTMState
from jedi_play.models.world_model import WorldModel
from trainer.agent.evaluate import evaluate_agent
from trainer.agent.imagination import (
    AGENT_GRAD_CLIP,
    ImaginationConfig,
    Rollout,
    actor_critic_loss,
    batch_updates,
    imagine,
    replayed_loss,
)
from trainer.agent.presets import CPU
from trainer.data.sampler import SegmentSampler


@dataclass
class FrozenAgentConfig:
    """Train a fresh actor-critic against a frozen model folder (real rollouts or its dream), then evaluate it."""

    model: Path = field(
        metadata={"help": "model folder whose world model gives the agent its states (frozen)", "metavar": "DIR"}
    )
    json: Path = field(metadata={"help": "write the training log and the evaluation to FILE", "metavar": "FILE"})
    rollouts: Literal["real", "dream"] = field(
        default="real", metadata={"help": "real: the real game (a baseline); dream: the world model's dream"}
    )
    data: Path | None = field(
        default=None, metadata={"help": "episode folder of the game whose contexts start the dreams", "metavar": "DIR"}
    )
    outcomes: Literal["sample", "expected"] = field(
        default=CPU.imagined_outcomes, metadata={"help": "dream: imagined rewards and ends drawn, or their means"}
    )
    updates: int = field(
        default=CPU.total_agent_updates,
        metadata={"help": "actor-critic updates (the default: as many as a 'cpu' run takes)", "metavar": "N"},
    )
    batch_size: int = field(
        default=CPU.agent_batch_size, metadata={"help": "games (real or imagined) per update", "metavar": "N"}
    )
    lr: float = field(default=CPU.agent_lr, metadata={"help": "AdamW learning rate"})
    entropy_weight: float = field(default=CPU.entropy_weight, metadata={"help": "entropy bonus weight"})
    normalize_advantages: bool = field(
        default=CPU.normalize_advantages,
        metadata={"experimental": True, "help": "not in DIAMOND: scale each batch's advantages to zero mean and unit standard deviation"},
    )
    epochs: int = field(
        default=CPU.agent_epochs,
        metadata={"experimental": True, "help": "not in DIAMOND (PPO): passes over each batch of games, the later ones with the probability ratio clipped", "metavar": "K"},
    )
    minibatches: int = field(
        default=CPU.agent_minibatches,
        metadata={"experimental": True, "help": "not in DIAMOND (PPO): optimizer steps each pass takes, each on its share of the batch's games", "metavar": "M"},
    )
    denoising_steps: int = field(
        default=CPU.denoising_steps, metadata={"help": "dream: denoising steps of each imagined step", "metavar": "N"}
    )
    keep_agent: bool = field(
        default=False, metadata={"help": "train the model folder's own agent further instead of a fresh one (fresh optimizer state)"}
    )
    episodes: int = field(
        default=100, metadata={"help": "evaluation episodes of the final agent (0: none)", "metavar": "N"}
    )
    log_every: int = field(default=50, metadata={"help": "updates between log rows", "metavar": "N"})
    seed: int = field(default=0, metadata={"help": "random seed (envs, actions, the agent's initial weights)"})
    threads: int | None = field(
        default=None, metadata={"help": "CPU threads for torch (default: torch's choice)", "metavar": "N"}
    )
    to: Path | None = field(
        default=None,
        metadata={"help": "also write a model folder: the frozen world model with the trained agent (for jedi-play, jedi-eval)", "metavar": "DIR"},
    )
    weights: WeightsDType | None = field(
        default=None,
        metadata={"help": "weight storage of the --to folder: float32, float16 or int8 (default: the model folder's)"},
    )

    def __post_init__(self) -> None:
        for name in ("updates", "batch_size", "log_every", "denoising_steps", "epochs", "minibatches"):
            if getattr(self, name) < 1:
                raise UserError(f"{option_text(FrozenAgentConfig, name)} must be at least 1, not {getattr(self, name)}")
        if self.episodes < 0:
            raise UserError(f"--episodes must be at least 0, not {self.episodes}")
        if self.minibatches > self.batch_size:
            raise UserError(f"--experimental minibatches={self.minibatches} splits each batch's {self.batch_size} games: give at most --batch-size")
        if self.lr <= 0:
            raise UserError(f"--lr must be positive, not {self.lr}")
        if (self.rollouts == "dream") != (self.data is not None):
            raise UserError("--data DIR gives the dreams their contexts: it goes with --rollouts dream, and only there")
        if self.to is not None and self.to.resolve() == self.model.resolve():
            raise UserError(f"--to {self.to} is the model folder the agent trains against: name another folder")
        if self.weights is not None and self.to is None:
            raise UserError("--weights sets how the --to folder stores its weights: it goes with --to DIR")


class Rollouts(Protocol):
    """Where the agent's games are played: ``play`` gives one batch of ``horizon`` steps of them."""

    def play(self, agent: ActorCritic, horizon: int) -> Rollout: ...

    def close(self) -> None: ...


class RealRollouts:
    """``batch_size`` training envs played ``horizon`` steps at a time; each game's LSTM state carries over."""

    def __init__(self, game: str, world_model: WorldModel, batch_size: int, seed: int) -> None:
        self.world_model = world_model
        self.envs: list[AtariEnv] = [make_train_env(game) for _ in range(batch_size)]
        self.frames = np.stack([env.reset(seed=seed * 1000 + i)[0] for i, env in enumerate(self.envs)])  # (B, H, W, 3)
        self.returns = np.zeros(batch_size)  # of the game each env is playing
        self.finished: list[float] = []  # returns of finished games (one life each)
        self.lstm: LSTMState | None = None
        self.generator = torch.Generator().manual_seed(seed)
        self.states = self._encode()  # of the current frames, each encoded once

    def _encode(self) -> Tensor:
        with torch.no_grad():
            return self.world_model.to_states(torch.as_tensor(self.frames)[:, None])[:, 0]  # (B, C, h, w)

    def play(self, agent: ActorCritic, horizon: int) -> Rollout:
        """Play ``horizon`` steps of every env; games that end start again (their LSTM row zeroed)."""
        b = len(self.envs)
        lstm = self.lstm if self.lstm is not None else agent.initial_state(b)
        start_lstm = lstm
        log_probs, entropy, values, rewards, ends, visited, taken = [], [], [], [], [], [], []
        for _ in range(horizon):
            logits, value, lstm = agent(self.states, lstm)
            log_p = torch.log_softmax(logits, -1)
            probs = log_p.exp()
            action = torch.multinomial(probs.detach(), 1, generator=self.generator)  # (B, 1)
            visited.append(self.states)
            taken.append(action.squeeze(1))
            log_probs.append(log_p.gather(1, action).squeeze(1))
            entropy.append(-(probs * log_p).sum(-1))
            values.append(value)
            reward, end = np.zeros(b, dtype=np.float32), np.zeros(b, dtype=np.float32)
            for i, env in enumerate(self.envs):
                self.frames[i], r, terminated, truncated, _ = env.step(int(action[i]))
                self.returns[i] += r
                reward[i], end[i] = np.sign(r), float(terminated)
                if terminated or truncated:
                    self.finished.append(float(self.returns[i]))
                    self.returns[i] = 0.0
                    self.frames[i], _ = env.reset()
                    end[i] = 1.0  # a cut game does not bootstrap from the next game's first state either
            self.states = self._encode()
            keep = torch.from_numpy(1.0 - end)[:, None]
            lstm = (lstm[0] * keep, lstm[1] * keep)
            rewards.append(torch.from_numpy(reward))
            ends.append(torch.from_numpy(end))
        with torch.no_grad():
            _, value, _ = agent(self.states, lstm)
        values.append(value)
        visited.append(self.states)
        self.lstm = (lstm[0].detach(), lstm[1].detach())
        stack = lambda xs: torch.stack(xs, dim=1)  # noqa: E731
        return Rollout(
            stack(log_probs), stack(entropy), stack(values), stack(rewards), stack(ends), restarts=True,
            states=stack(visited), actions=stack(taken), start_lstm=start_lstm,
        )

    def close(self) -> None:
        for env in self.envs:
            env.close()


class DreamRollouts:
    """Games imagined in a frozen world model's dream, each from real context frames of an episode folder."""

    def __init__(
        self, world_model: WorldModel, data: Path, game: str, batch_size: int, outcomes: str, seed: int, denoising_steps: int
    ) -> None:
        store = EpisodeStore.open(data)
        if store.game != game:
            raise UserError(f"{data} holds {store.game} episodes; the model is for {game}")
        self.sampler = SegmentSampler(world_model.num_cond_steps - 1, store.load_all(), seed=seed)
        self.dream = DreamEnv(world_model, denoising_steps, outcomes=outcomes)  # type: ignore[arg-type]
        self.dream.seed(seed)
        self.batch_size = batch_size

    def play(self, agent: ActorCritic, horizon: int) -> Rollout:
        segment = self.sampler.sample(self.batch_size)
        return imagine(self.dream, agent, torch.from_numpy(segment.frames), torch.from_numpy(segment.actions), horizon)

    def close(self) -> None:
        pass


def train_frozen_agent(config: FrozenAgentConfig, progress: bool = True) -> dict:
    """Train and evaluate; the result (config, log rows, evaluation) is also written to ``config.json``,
    and rewritten with the log so far at each log row, so a stopped run keeps what it measured."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    loaded = load_model_folder(config.model)
    world_model = loaded.world_model.eval().requires_grad_(False)
    if config.keep_agent:
        if loaded.agent is None:
            raise UserError(f"--keep-agent trains the model folder's agent further, and {config.model} has none")
        agent = loaded.agent.train().requires_grad_(True)
    else:  # fresh weights; the sizes of the folder's agent, or of a whole run's agent for this world model
        sizes = loaded.agent.cfg if loaded.agent is not None else ActorCriticConfig.for_world_model(world_model, len(loaded.action_meanings))
        agent = ActorCritic(sizes)
    agent.sync_input_statistics(world_model)
    optim = torch.optim.AdamW(agent.parameters(), lr=config.lr, weight_decay=0.0)
    imagination = ImaginationConfig(
        entropy_weight=config.entropy_weight, normalize_advantages=config.normalize_advantages, epochs=config.epochs, minibatches=config.minibatches
    )
    games: Rollouts
    if config.data is not None:
        games = DreamRollouts(world_model, config.data, loaded.game, config.batch_size, config.outcomes, config.seed, config.denoising_steps)
    else:
        games = RealRollouts(loaded.game, world_model, config.batch_size, config.seed)
    log: list[dict] = []
    start = time.monotonic()
    result: dict = {
        "game": loaded.game,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "steps": config.updates * config.batch_size * imagination.horizon,  # real or imagined
        "log": log,
    }
    steps = range(1, config.updates + 1)
    desc = f"{config.rollouts} {loaded.game}"

    def optimizer_step(loss: Tensor) -> None:
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(agent.parameters(), AGENT_GRAD_CLIP)
        optim.step()

    def play() -> Rollout:
        return games.play(agent, imagination.horizon)

    def loss(played: Rollout | None) -> tuple[Tensor, dict[str, float]]:
        return actor_critic_loss(play(), imagination) if played is None else replayed_loss(agent, played, imagination)

    for update in tqdm(steps, desc=desc, unit="upd", disable=not progress, dynamic_ncols=True):
        metrics = batch_updates(imagination, loss, play, optimizer_step)
        if update % config.log_every == 0 or update == config.updates:
            row = {
                "update": update,
                "seconds": round(time.monotonic() - start, 1),
                "entropy": metrics["entropy"],
                "value": metrics["value"],
                "rollout_return": metrics["imagined_return"],  # reward signs summed over a game's steps in the batch
            }
            if isinstance(games, RealRollouts):
                recent = games.finished[-100:]
                row["games"] = len(games.finished)
                row["return_last_100_games"] = float(np.mean(recent)) if recent else None
            log.append(row)
            _write(config.json, result)
    games.close()
    result["train_seconds"] = round(time.monotonic() - start, 1)
    if config.episodes:
        player = AgentPlayer(world_model, agent.eval(), seed=config.seed)
        evaluation = evaluate_agent(player, loaded.game, config.episodes, seed=config.seed, progress=progress)
        result["evaluation"] = evaluation.to_dict()
    _write(config.json, result)
    if config.to is not None:
        source_dtype = loaded.config.get("weights_dtype", "float32")
        weights = config.weights or source_dtype
        save_model_folder(
            config.to, world_model, loaded.kind, loaded.game, loaded.action_meanings,
            agent_card(config, result, weights if weights != source_dtype else None), {"frozen_agent": result},
            agent=agent.eval(), weights_dtype=weights,
        )
    return result


def agent_card(config: FrozenAgentConfig, result: dict, stored_as: WeightsDType | None = None) -> str:
    """The model card of a folder written by ``--to``: where the world model and the agent come from, and the score
    (``stored_as``: the folder stores its weights in another dtype than the ones that were scored)."""
    evaluation = result.get("evaluation")
    score = (
        f"{evaluation['mean_score']:.1f} +- {evaluation['ci95']:.1f} (95% CI) over {evaluation['episodes']} evaluation episodes, HNS {evaluation['hns']:.3f}"
        if evaluation
        else "not evaluated (--episodes 0)"
    )
    who = "the folder's own actor-critic trained further" if config.keep_agent else "a fresh actor-critic"
    card = (
        f"# {result['game']}: a frozen world model and an agent trained against it\n\n"
        f"- World model: `{config.model}`, unchanged.\n"
        f"- Agent: {who}, {config.updates} updates of {config.batch_size} {config.rollouts} games "
        f"(lr {config.lr}, entropy weight {config.entropy_weight}{', advantages normalised' if config.normalize_advantages else ''}"
        f"{f', {config.epochs} passes a batch' if config.epochs > 1 else ''}{f', {config.minibatches} minibatches a pass' if config.minibatches > 1 else ''}), `jedi-train agent`, {result['train_seconds']} s.\n"
        f"- Score: {score}.\n"
    )
    if stored_as:
        card += (
            f"- Weights: {stored_as}; the score is the weights' before they were stored so (`jedi-eval --model` "
            "this folder scores it as it is).\n"
        )
    return card


def _write(path: Path, result: dict) -> None:
    atomic_write_bytes(path, (json.dumps(result, indent=2) + "\n").encode())
