"""Whole-agent training under the Atari 100k protocol: ``jedi-train --game NAME --world-model K --preset P``.

A run folder holds ``replay/`` (every finished real episode, written atomically as it ends),
``checkpoint.safetensors`` (world model, agent, both optimizers, the loop's counters), ``run.json``,
``metrics.jsonl`` and TensorBoard event files in ``tb/`` (``trainer.agent.run_log``: one row per epoch, two
for an epoch a stop signal cut short; rows of epoch 0 are the world model's updates before the agent's). The
run first collects ``initial_random_steps`` with the random policy, trains the world model alone on them where
the preset says so (``initial_world_model_updates``, not in DIAMOND), then repeats epochs of: real collection
by the agent (epsilon 0.01), world-model updates, actor-critic updates in imagination, and now and then an
evaluation in the real game. Where the preset says so (``final_agent_updates``, not in DIAMOND), an
actor-critic (a fresh one, or the run's own: ``final_agent``) then learns in the final world model's frozen dream
and the run ends with it, the run's agent as it was kept in ``run_agent.safetensors``. A run killed at any
moment resumes from its last checkpoint with the replay on disk: no finished episode is lost, and its real
steps, epochs and updates are those of a run never stopped. Only the steps of the episode that was being
played when it died are played again. Under ``torchrun`` the updates run data-parallel
(``trainer.distributed``): rank 0 plays, writes and evaluates; all ranks update.
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from jedi_play.agent.player import AgentPlayer
from jedi_play.cli.errors import UserError
from jedi_play.device import describe_device, resolve_device, resolve_precision, training_autocast
from jedi_play.dream.dream_env import DreamEnv
from jedi_play.env.atari import make_train_env
from jedi_play.env.games import get_game
from jedi_play.models.actor_critic import ActorCritic, ActorCriticConfig
from jedi_play.models.factory import build_world_model
from trainer.agent.config import TrainConfig, world_model_options
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
from trainer.agent.presets import Preset
from trainer.agent.run_log import RunLog, mean_metrics
from trainer.agent.run_replay import RunReplay
from trainer.checkpoint import RUN_AGENT_FILE, load_checkpoints, save_checkpoints
from trainer.data.collect import Collector, RandomPolicy
from trainer.data.sampler import SegmentSampler
from trainer.distributed import (
    Objective,
    any_rank,
    broadcast,
    check_replicas_identical,
    data_parallel,
    init_distributed,
    shutdown_distributed,
)
from trainer.signals import StopOnSignal
from trainer.world_model.train import CHECKPOINT, segment_to_batch, world_model_optimizer, world_model_update

WORLD_MODEL_WEIGHT_DECAY = 1e-2
WARMUP_UPDATES = 100
WORLD_MODEL_GRAD_CLIP = 1.0
COLLECT_EPSILON = 0.01
PRETRAIN_BLOCK_UPDATES = 50  # world-model updates between log rows (and possible checkpoints) before the first epoch
FINAL_AGENT_BLOCK_UPDATES = 100  # the final agent's updates between log rows (and possible checkpoints)
FRESH_AGENT_SEED = 7_919  # added to the run's seed: the fresh final agent's weights, the same on every rank


@dataclass
class Counters:
    """The loop's position, saved in each checkpoint."""

    epoch: int = 0
    world_model_updates: int = 0
    agent_updates: int = 0
    seconds: float = 0.0  # training time of earlier sessions of this run
    finished: bool = False
    # updates of epoch ``epoch`` that a stop signal cut off: a resumed run does them before the next epoch
    world_model_updates_left: int = 0
    agent_updates_left: int = 0
    # after the last epoch: whether the final agent has started (the run's agent kept), and its updates so far
    final_agent_started: bool = False
    final_agent_updates: int = 0

    @classmethod
    def from_saved(cls, saved: dict) -> Counters:
        """The counters a checkpoint holds (one from before the final agent could be the run's says ``fresh_agent``)."""
        return cls(**{("final_agent_started" if k == "fresh_agent" else k): v for k, v in saved.items()})


class AgentTraining:
    """One run: builds or restores everything from ``config`` and trains until the preset's budget is spent.

    In a data-parallel run (``torchrun``) only rank 0 touches the game and the run folder; it sends the
    other ranks the checkpoint's optimizer states and counters, the replay, and each new episode.
    """

    def __init__(self, config: TrainConfig, *, progress: bool = True) -> None:
        self.config = config
        self.game = get_game(config.game)
        self.preset: Preset = config.budget()
        self.run_dir = config.out
        self.ckpt_path = self.run_dir / CHECKPOINT
        started = (self.run_dir / "run.json").exists()  # every rank looks before the ranks meet; rank 0 writes it after
        if (self.ckpt_path.exists() or started) and not config.resume:
            raise UserError(f"{self.run_dir} already holds a run; add --resume to continue it or choose another --out")
        if config.resume and not started:
            raise UserError(f"{self.run_dir} has no run to resume; drop --resume to start one there")
        # a run killed before its first checkpoint left its run.json and replay: it starts again on its episodes
        from_checkpoint = config.resume and self.ckpt_path.exists()
        saved_info = json.loads((self.run_dir / "run.json").read_text()) if config.resume else {}
        if saved_info:
            config.check_resumes(saved_info)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.dist, self.device = init_distributed(resolve_device(config.device))
        self.main = self.dist.is_main
        self.wm_precision = resolve_precision(config.precision, self.device)
        self.progress = progress and self.main
        if self.main:
            ranks = f", {self.dist.world_size} data-parallel ranks" if self.dist.enabled else ""
            changed = "".join(
                f", {'' if value else 'no '}{name}" if isinstance(value, bool) else f", {name} {value}" for name, value in config.preset_overrides().items()
            )
            print(f"jedi-train: {config.world_model} agent on {self.game.name}, preset {config.preset}{changed}, device {describe_device(self.device)}{ranks}, {self.wm_precision} world-model training", flush=True)
        torch.manual_seed(config.seed + 1000 * self.dist.rank)  # each rank its own noise; rank 0's weights win below

        self.env = make_train_env(self.game.name)
        num_actions = len(self.env.action_meanings)
        # a resumed run keeps the world model it was built with, even if its preset's options have changed since
        model_config = saved_info.get("model_config") or world_model_options(config, self.preset, num_actions)
        self.world_model = build_world_model(config.world_model, model_config).to(self.device)
        # and its agent (one from before standardised inputs keeps its layer norm)
        saved_agent = saved_info.get("agent_config")
        agent_config = ActorCriticConfig.from_dict(saved_agent) if saved_agent else ActorCriticConfig.for_world_model(self.world_model, num_actions)
        self.agent = ActorCritic(agent_config).to(self.device)
        self.wm_optim = world_model_optimizer(self.world_model, self.preset.world_model_lr, WORLD_MODEL_WEIGHT_DECAY)
        self.agent_optim = self._agent_optimizer()
        self.wm_lrs = [g["lr"] for g in self.wm_optim.param_groups]
        meta = {"counters": vars(Counters())}
        if from_checkpoint and self.main:
            meta = load_checkpoints(self.ckpt_path, self._models(), self._optimizers())
        elif config.resume and self.main:
            print(f"jedi-train: {self.run_dir} has no checkpoint yet; starting it again on the episodes it stored", flush=True)
        if self.dist.enabled:  # DDP sends rank 0's weights when it wraps them; the rest goes here
            meta, wm_state, agent_state = broadcast((meta, self.wm_optim.state_dict(), self.agent_optim.state_dict()), self.dist)
            self.wm_optim.load_state_dict(wm_state)
            self.agent_optim.load_state_dict(agent_state)
        self.counters = Counters.from_saved(meta["counters"])
        torch.manual_seed(config.seed + self.counters.epoch + 1000 * self.dist.rank)  # fresh randomness after a resume
        self.wm_objective = data_parallel(Objective(self.world_model, type(self.world_model).training_loss), self.dist, self.device)
        self.agent_objective = data_parallel(Objective(self.agent, self._imagination_loss), self.dist, self.device)

        if self.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._write_run_info()
        seed = config.seed + self.counters.epoch + 1000 * self.dist.rank  # each rank samples its own batches
        self.replay = RunReplay(self.run_dir / "replay", self.game.name, self.env.action_meanings, self.world_model.num_cond_steps, seed, self.dist)
        if self.main:
            self.collector = Collector(self.env, self.replay.store, seed=config.seed + self.replay.num_episodes, on_episode=self.replay.add)
        self.player = AgentPlayer(self.world_model, self.agent, epsilon=COLLECT_EPSILON, seed=seed + 2)
        self.dream = DreamEnv(self.world_model, self.preset.denoising_steps, outcomes=self.preset.imagined_outcomes)
        self.imagination = ImaginationConfig(
            horizon=self.preset.horizon, entropy_weight=self.preset.entropy_weight, normalize_advantages=self.preset.normalize_advantages,
            epochs=self.preset.agent_epochs, minibatches=self.preset.agent_minibatches,
        )

    # -- bookkeeping -----------------------------------------------------------------------------

    def _models(self) -> dict[str, torch.nn.Module]:
        return {"model": self.world_model, "agent": self.agent}

    def _agent_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.agent.parameters(), lr=self.preset.agent_lr, weight_decay=0.0)

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optim": self.wm_optim, "agent_optim": self.agent_optim}

    def _write_run_info(self) -> None:
        info = {
            "kind": "agent",
            "game": self.game.name,
            "world_model": self.config.world_model,
            "action_meanings": self.env.action_meanings,
            "train_config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(self.config).items()},
            "preset": self.preset.to_dict(),
            "model_config": self.world_model.cfg.to_dict(),
            "agent_config": self.agent.cfg.to_dict(),
        }
        (self.run_dir / "run.json").write_text(json.dumps(info, indent=2))

    @property
    def env_steps(self) -> int:
        if not self.main:
            return self.replay.shared_steps
        return self.replay.stored_steps + self.collector.steps_in_progress

    def _checkpoint(self) -> None:
        check_replicas_identical(self._models(), self.dist, self.device)
        if not self.main:
            return
        self.counters.seconds = self._seconds()
        save_checkpoints(self.ckpt_path, self._models(), self._optimizers(), {"counters": vars(self.counters), "env_steps": self.env_steps})

    def _seconds(self) -> float:
        return self._offset + time.monotonic() - self._start

    # -- the phases of an epoch ------------------------------------------------------------------

    def _bar(self, total: int, desc: str, unit: str) -> tqdm:
        return tqdm(total=total, desc=desc, unit=unit, leave=False, disable=not self.progress, dynamic_ncols=True)

    def _run_updates(self, n: int, desc: str, sampler: SegmentSampler, update: Callable[[], dict[str, float]], stop: StopOnSignal) -> list[dict[str, float]]:
        """``n`` calls of ``update`` under a progress bar (none before ``sampler`` has data; fewer on a stop signal)."""
        rows: list[dict[str, float]] = []
        if sampler.num_transitions == 0:
            return rows
        with self._bar(n, desc, "upd") as bar:
            for _ in range(n):
                if stop.requested and not self.dist.enabled:  # ranks stop together, between epochs
                    break
                rows.append(update())
                bar.update(1)
        return rows

    def _world_model_update(self) -> dict[str, float]:
        batch = segment_to_batch(self.replay.wm_sampler.sample(self.preset.batch_size), self.device)
        metrics = world_model_update(
            self.world_model, self.wm_optim, self.wm_lrs, batch, self.counters.world_model_updates, WARMUP_UPDATES, WORLD_MODEL_GRAD_CLIP, self.wm_objective,
            precision=self.wm_precision,
        )
        self.counters.world_model_updates += 1
        return metrics

    def _agent_update(self) -> dict[str, float]:
        segment = self.replay.context_sampler.sample(self.preset.agent_batch_size)
        frames = torch.from_numpy(segment.frames).to(self.device)
        actions = torch.from_numpy(segment.actions).to(self.device)
        grad_norms: list[float] = []

        def step(loss: torch.Tensor) -> None:
            self.agent_optim.zero_grad(set_to_none=True)
            loss.backward()
            grad_norms.append(float(torch.nn.utils.clip_grad_norm_(self.agent.parameters(), AGENT_GRAD_CLIP)))
            self.agent_optim.step()

        def loss(played: Rollout | None) -> tuple[torch.Tensor, dict[str, float]]:
            with training_autocast(self.device):
                return self.agent_objective(frames, actions, played)

        def play() -> Rollout:
            with training_autocast(self.device):
                return imagine(self.dream, self.agent, frames, actions, self.imagination.horizon)

        metrics = batch_updates(self.imagination, loss, play, step)
        metrics["agent_grad_norm"] = sum(grad_norms) / len(grad_norms)
        if self.counters.final_agent_started:
            self.counters.final_agent_updates += 1
        else:
            self.counters.agent_updates += 1
        return metrics

    def _imagination_loss(
        self, agent: ActorCritic, frames: torch.Tensor, actions: torch.Tensor, played: Rollout | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """DIAMOND's loss on games imagined from ``frames`` and ``actions``, or a PPO pass over games ``played``."""
        if played is not None:
            return replayed_loss(agent, played, self.imagination)
        rollout = imagine(self.dream, agent, frames, actions, self.imagination.horizon)
        return actor_critic_loss(rollout, self.imagination)

    def _train_world_model(self, n: int, stop: StopOnSignal) -> list[dict[str, float]]:
        self.world_model.train()
        rows = self._run_updates(n, "world model", self.replay.wm_sampler, self._world_model_update, stop)
        self.world_model.eval()
        return rows

    def _pretrain_world_model(self, stop: StopOnSignal, log: RunLog | None) -> bool:
        """The preset's ``initial_world_model_updates`` on the random steps, before the first epoch, in blocks
        that are logged (epoch 0) and checkpointed like epochs; returns whether a signal stopped them."""
        p, c = self.preset, self.counters
        stopping = False
        has_data = self.replay.wm_sampler.num_transitions > 0
        while has_data and c.epoch == 0 and c.world_model_updates < p.initial_world_model_updates and not stopping:
            n = min(PRETRAIN_BLOCK_UPDATES, p.initial_world_model_updates - c.world_model_updates)
            self.world_model.train()
            desc = f"world model before the agent ({c.world_model_updates}/{p.initial_world_model_updates})"
            rows = self._run_updates(n, desc, self.replay.wm_sampler, self._world_model_update, stop)
            self.world_model.eval()
            stopping = any_rank(stop.requested, self.dist, self.device)
            if log and rows:
                row = {"epoch": 0, **mean_metrics(rows, "wm_"), "world_model_updates": c.world_model_updates, "agent_updates": 0, "time": self._seconds()}
                log.write(row, step=self.env_steps)
            self._checkpoint_if_due(stopping)
        self.agent.sync_input_statistics(self.world_model)
        return stopping

    def _checkpoint_if_due(self, stopping: bool) -> None:
        """Checkpoint when stopping or when the preset's checkpoint interval has passed (all ranks agree)."""
        due = self.main and time.monotonic() - self._last_checkpoint >= self.preset.checkpoint_minutes * 60
        if stopping or any_rank(due, self.dist, self.device):
            self._checkpoint()
            self._last_checkpoint = time.monotonic()

    def _train_agent(self, n: int, stop: StopOnSignal) -> list[dict[str, float]]:
        self.agent.train()
        rows = self._run_updates(n, "actor-critic", self.replay.context_sampler, self._agent_update, stop)
        self.agent.eval()
        return rows

    def _start_final_agent(self) -> None:
        """Keep the run's agent in ``run_agent.safetensors`` and give the final agent a fresh optimizer; a fresh
        final agent (the preset's ``final_agent``) takes the run's agent's place, with the same seeded weights on
        every rank. A run stopped before its next checkpoint does this again, alike."""
        if self.main:
            save_checkpoints(self.run_dir / RUN_AGENT_FILE, {"agent": self.agent}, {}, {"agent_updates": self.counters.agent_updates})
        if self.preset.final_agent == "fresh":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.config.seed + FRESH_AGENT_SEED)
                fresh = ActorCritic(self.agent.cfg)
            self.agent.load_state_dict(fresh.state_dict())  # in place: a data-parallel wrapper keeps these parameters
            self.agent.sync_input_statistics(self.world_model)
        self.agent_optim = self._agent_optimizer()
        self.counters.final_agent_started = True

    def _train_final_agent(self, stop: StopOnSignal, log: RunLog | None) -> bool:
        """The preset's ``final_agent_updates`` in the final world model's frozen dream, after the last epoch, in
        blocks that are logged and checkpointed; the last block's row holds its evaluation. Returns whether a
        signal stopped them."""
        p, c = self.preset, self.counters
        if not c.final_agent_started:
            self._start_final_agent()
        stopping = False
        while c.final_agent_updates < p.final_agent_updates and not stopping:
            n = min(FINAL_AGENT_BLOCK_UPDATES, p.final_agent_updates - c.final_agent_updates)
            rows = self._train_agent(n, stop)
            stopping = any_rank(stop.requested, self.dist, self.device)
            if log and rows:
                row = {"epoch": c.epoch, **mean_metrics(rows, "")}
                if c.final_agent_updates == p.final_agent_updates and not stopping:
                    row.update(self._evaluate(p.eval_episodes, p.eval_max_steps))
                row.update({"world_model_updates": c.world_model_updates, "agent_updates": c.agent_updates, "final_agent_updates": c.final_agent_updates})
                log.write(row | {"time": self._seconds()}, step=c.final_agent_updates, tag="final_agent/")
            self._checkpoint_if_due(stopping)
        return stopping

    def _evaluate(self, episodes: int, max_steps: int | None) -> dict[str, float]:
        player = AgentPlayer(self.world_model, self.agent, seed=self.config.seed)
        result = evaluate_agent(player, self.game.name, episodes, seed=10_000 * (self.config.seed + 1), max_steps=max_steps, progress=self.progress)
        return {"eval_mean_score": result.mean_score, "eval_std_score": result.std_score, "eval_hns": result.hns, "eval_episodes": len(result.scores)}

    # -- the run ---------------------------------------------------------------------------------

    def _epoch(self, stop: StopOnSignal, bar: tqdm) -> dict[str, float]:
        """Collect (rank 0), share the new episodes, update both models; returns the epoch's metrics row.

        Epoch ``k`` collects until the run holds ``initial_random_steps + k * steps_per_epoch`` real steps, so
        a resumed run plays again the steps it lost (the episode in progress) within its next epoch, or none
        while the episodes stored after its checkpoint already hold them: its epochs and updates are those
        of a run never stopped.
        """
        p, c = self.preset, self.counters
        c.epoch += 1
        row: dict[str, float] = {"epoch": c.epoch}
        if self.main:
            before = self.env_steps
            target = min(p.initial_random_steps + c.epoch * p.steps_per_epoch, p.env_steps)
            self.world_model.eval()
            stats = self.collector.run(max(0, target - before), self.player, progress=self.progress, desc="agent collection")
            bar.update(self.env_steps - before)
            row.update({"env_steps": self.env_steps, "episodes": self.replay.num_episodes})
            if stats.returns:
                row["train_return"] = float(np.mean(stats.returns))
        self.replay.share(self.env_steps)
        c.world_model_updates_left = p.world_model_updates
        c.agent_updates_left = p.agent_updates if c.epoch > p.agent_delay_epochs else 0
        return row | self._epoch_updates(stop)

    def _epoch_updates(self, stop: StopOnSignal) -> dict[str, float]:
        """The current epoch's world-model, then actor-critic updates still to do; returns their mean metrics.
        Those a stop signal cuts off stay in the counters for a resumed run."""
        c = self.counters
        wm_rows = self._train_world_model(c.world_model_updates_left, stop)
        c.world_model_updates_left = c.world_model_updates_left - len(wm_rows) if stop.requested else 0
        self.agent.sync_input_statistics(self.world_model)  # the agent reads states as the world model now scales them
        ac_rows = self._train_agent(c.agent_updates_left, stop) if c.agent_updates_left else []
        c.agent_updates_left = c.agent_updates_left - len(ac_rows) if stop.requested else 0
        return mean_metrics(wm_rows, "wm_") | mean_metrics(ac_rows, "")

    def _end_epoch(self, row: dict[str, float], stop: StopOnSignal, log: RunLog | None) -> bool:
        """Evaluate when due (rank 0), log the epoch's row and checkpoint when due; returns whether to stop."""
        p, c = self.preset, self.counters
        stopping = any_rank(stop.requested, self.dist, self.device)
        if log:
            if c.epoch % p.eval_every == 0 and not stopping:
                row.update(self._evaluate(p.eval_episodes, p.eval_max_steps))
            row.update({"world_model_updates": c.world_model_updates, "agent_updates": c.agent_updates, "time": self._seconds()})
            log.write(row, step=self.env_steps)
        self._checkpoint_if_due(stopping)
        return stopping

    def run(self) -> dict[str, float]:
        """Train until the budget is spent (or a signal asks to stop); returns the last epoch's metrics."""
        p, c = self.preset, self.counters
        if c.finished:
            if self.main:
                print(f"{self.run_dir} has finished its {p.env_steps} steps; nothing to do")
            return {}
        # every row counts the world model's updates (epochs and the blocks before them), the final agent's its own
        resume_at = {"world_model_updates": c.world_model_updates, "final_agent_updates": c.final_agent_updates} if self.config.resume else None
        self._offset, self._start = c.seconds, time.monotonic()
        self._last_checkpoint = time.monotonic()
        row: dict[str, float] = {}
        main = self.main
        with contextlib.ExitStack() as resources:
            stop = resources.enter_context(StopOnSignal())  # first: once metrics.jsonl exists, a signal checkpoints the run
            epochs = resources.enter_context(tqdm(total=p.env_steps, initial=self.env_steps, desc=f"{self.game.name} real steps", unit="step", disable=not self.progress, dynamic_ncols=True))
            log = resources.enter_context(RunLog(self.run_dir, epochs, resume_at=resume_at, env_steps=self.env_steps)) if main else None
            if main and self.env_steps < p.initial_random_steps:
                before = self.env_steps
                self.collector.run(p.initial_random_steps - before, RandomPolicy(len(self.env.action_meanings), self.config.seed + self.replay.num_episodes), progress=self.progress, desc="random policy")
                if p.initial_world_model_updates:
                    self.collector.flush()  # the world model's first updates see every random step
                epochs.update(self.env_steps - before)
            self.replay.share(self.env_steps)
            stopping = self._pretrain_world_model(stop, log)
            if (c.world_model_updates_left or c.agent_updates_left) and not stopping:  # the epoch a signal cut short: a second row
                row = {"epoch": c.epoch, **self._epoch_updates(stop)}
                stopping = self._end_epoch(row, stop, log)
            while (c.epoch < p.epochs or self.env_steps < p.env_steps) and not stopping:
                row = self._epoch(stop, epochs)
                stopping = self._end_epoch(row, stop, log)
            if not stopping and main:
                self.collector.flush()  # the episode being played when the budget ran out
            if p.final_agent_updates and not stopping:
                stopping = self._train_final_agent(stop, log)
            if not stopping:
                c.finished = True
            self._checkpoint()
        return row


def train_agent(config: TrainConfig, *, progress: bool = True) -> tuple[dict[str, float], bool]:
    """Run ``jedi-train --game ... --preset ...`` (or resume it); under ``torchrun``, this rank's part of it.

    Returns the last epoch's metrics and whether the run has finished its budget (False: a signal stopped it).
    """
    completed = False
    try:
        training = AgentTraining(config, progress=progress)
        row, finished = training.run(), training.counters.finished
        completed = True
        return row, finished
    finally:
        training = None  # its DDP wrappers hold the process group: free them before the group goes
        gc.collect()
        shutdown_distributed(wait_for_others=completed)
