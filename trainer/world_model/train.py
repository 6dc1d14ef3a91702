"""``jedi-train world-model``: train a JEDI or DIAMOND world model on an episode folder.

The run folder holds ``run.json`` (what was asked), ``checkpoint.safetensors`` (model + optimizer, written
atomically every few minutes and at the end), ``weights.safetensors.xz`` (the weights alone in bf16, xz-compressed, written
with it: an eighth of its size), ``metrics.jsonl`` (training and held-out losses). Every 20th episode of the
data is held out for validation. ``--resume`` continues from the checkpoint; a run folder that kept only
``run.json`` and ``weights.safetensors.xz`` (committed, or copied to another machine, with the data made again
from its seed) resumes from the weights with a fresh optimizer, its learning rate warmed up again.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from tqdm import tqdm

from jedi_play.cli.errors import UserError
from jedi_play.data.atomic import atomic_write_bytes
from jedi_play.device import resolve_precision, training_autocast
from jedi_play.env.games import get_game
from jedi_play.models.factory import build_world_model
from jedi_play.models.world_model import Batch, WorldModel, frames_to_tensor
from trainer.checkpoint import WEIGHTS_FILE, load_checkpoint, save_checkpoint, save_weights
from trainer.data.sampler import Segment, SegmentSampler
from trainer.data.store import EpisodeStore
from trainer.signals import StopOnSignal

VAL_EVERY_NTH_EPISODE = 20
CHECKPOINT = "checkpoint.safetensors"


@dataclass
class WorldModelTrainConfig:
    """Options of ``jedi-train world-model``."""

    game: str = field(metadata={"help": "Atari 100k game the data comes from"})
    data: Path = field(metadata={"help": "episode folder made by 'jedi-train collect'", "metavar": "DIR"})
    out: Path = field(metadata={"help": "run folder", "metavar": "RUN_DIR"})
    world_model: Literal["jedi", "diamond"] = field(default="jedi", metadata={"help": "which world model"})
    updates: int | None = field(default=None, metadata={"help": "stop after N updates in all", "metavar": "N"})
    minutes: float | None = field(default=None, metadata={"help": "stop after M minutes of this session", "metavar": "M"})
    batch_size: int = field(default=32, metadata={"help": "segments per update", "metavar": "B"})
    lr: float = field(default=1e-4, metadata={"help": "AdamW learning rate"})
    weight_decay: float = field(default=1e-2, metadata={"help": "AdamW weight decay"})
    warmup: int = field(default=100, metadata={"help": "linear learning-rate warm-up, in updates"})
    grad_clip: float = field(default=1.0, metadata={"help": "gradient norm clip"})
    encoder_lr_scale: float = field(default=0.3, metadata={"help": "JEDI: encoder learning rate / the others'"})
    switch_prob: float = field(default=0.5, metadata={"help": "JEDI: random-switching probability (0 disables)"})
    ema_target_decay: float = field(default=0.0, metadata={"help": "JEDI ablation: EMA target encoder decay (0 = off)"})
    decoder_grad_weight: float = field(default=0.0, metadata={"experimental": True, "help": "JEDI ablation: decoder gradient into the encoder"})
    decoder_motion_weight: float = field(
        default=0.0, metadata={"experimental": True, "help": "JEDI, not in the paper: extra weight of the decoder's error on pixels that moved since the frame before", "metavar": "W"}
    )
    latent_batch_norm: bool = field(default=False, metadata={"experimental": True, "help": "JEDI: batch-normalise latents against scale collapse"})
    latent_norm: bool = field(default=False, metadata={"experimental": True, "help": "JEDI, not in the paper: diffuse latents normalised by running statistics"})
    predict_delta: bool = field(default=False, metadata={"experimental": True, "help": "JEDI, not in the paper: the denoiser predicts the change from the last latent"})
    dream_reward_weight: float = field(default=0.0, metadata={"experimental": True, "help": "JEDI, not in the paper: reward loss on sampled next latents"})
    denoiser_channels: int | None = field(
        default=None, metadata={"experimental": True, "help": "JEDI: the denoiser's channels (default: the paper's 160)", "metavar": "C"}
    )
    mean_predictor_channels: int = field(
        default=0, metadata={"experimental": True, "help": "JEDI, not in the paper: channels of a regressed next-latent mean the denoiser diffuses around (0 = off)", "metavar": "C"}
    )
    reward_foresight: bool = field(
        default=False, metadata={"experimental": True, "help": "not in the paper: read each step's reward and end from the transition before it and the action"}
    )
    reward_reads_mean: bool = field(
        default=False, metadata={"experimental": True, "help": "JEDI, not in the paper: read each step's reward and end from the mean predictor's next latent"}
    )
    reward_reads_standardized: bool = field(
        default=False, metadata={"experimental": True, "help": "JEDI, not in the paper: the reward model reads latents standardised by latent_norm's statistics"}
    )
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (default: torch's choice)"})
    precision: Literal["auto", "fp32", "bf16"] = field(
        default="auto", metadata={"help": "bf16 autocast of the networks (weights and losses stay float32); auto: where the CPU or GPU has bf16 units"}
    )
    checkpoint_minutes: float = field(default=5.0, metadata={"help": "minutes between checkpoints"})
    val_every: int = field(default=250, metadata={"help": "updates between held-out validations"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    resume: bool = field(default=False, metadata={"help": "continue the run in RUN_DIR"})


def segment_to_batch(seg: Segment, device: torch.device) -> Batch:
    return Batch(
        frames=frames_to_tensor(torch.from_numpy(seg.frames).to(device)),
        actions=torch.from_numpy(seg.actions).to(device),
        rewards=torch.from_numpy(seg.rewards).to(device),
        ends=torch.from_numpy(seg.terminated).to(device),
        mask=torch.from_numpy(seg.mask).to(device),
    )


def split_episodes(store: EpisodeStore) -> tuple[list, list]:
    """Training and held-out episodes (every 20th, in collection order)."""
    train, val = [], []
    for i, episode in enumerate(store):
        (val if i % VAL_EVERY_NTH_EPISODE == VAL_EVERY_NTH_EPISODE - 1 else train).append(episode)
    if not train:
        raise UserError(f"{store.root} holds no episode to train on")
    return train, val


def check_reward_alignment(reward_foresight: bool, dream_reward_weight: float, reward_reads_mean: bool, mean_predictor: bool) -> None:
    """``UserError`` for command-line options that choose contradicting inputs for the reward model."""
    if dream_reward_weight and reward_foresight:
        raise UserError("--experimental dream_reward_weight trains the reward model on sampled next latents, which reward_foresight does not read")
    if reward_reads_mean and (reward_foresight or dream_reward_weight):
        raise UserError("--experimental reward_reads_mean does not combine with reward_foresight or dream_reward_weight")
    if reward_reads_mean and not mean_predictor:
        raise UserError("--experimental reward_reads_mean reads the mean predictor's next latent: add --experimental mean_predictor_channels=C")


def check_decoder_weight(name: str, weight: float) -> None:
    """``UserError`` for a negative (or NaN) ``decoder_grad_weight`` or ``decoder_motion_weight`` (``name``: the field)."""
    if not weight >= 0:
        raise UserError(f"--experimental {name} must be at least 0, got {weight}")


def new_model(config: WorldModelTrainConfig, num_actions: int) -> WorldModel:
    model_cfg: dict = {"num_actions": num_actions, "reward_foresight": config.reward_foresight}
    check_decoder_weight("decoder_grad_weight", config.decoder_grad_weight)
    check_decoder_weight("decoder_motion_weight", config.decoder_motion_weight)
    if config.mean_predictor_channels < 0 or (config.denoiser_channels is not None and config.denoiser_channels < 1):
        raise UserError("--experimental mean_predictor_channels must be at least 0 and denoiser_channels at least 1")
    if config.world_model != "jedi" and (config.reward_reads_mean or config.reward_reads_standardized):
        raise UserError("--experimental reward_reads_mean and reward_reads_standardized apply to the JEDI world model only")
    if config.world_model != "jedi" and config.decoder_motion_weight:
        raise UserError("--experimental decoder_motion_weight applies to the JEDI world model only (DIAMOND has no decoder)")
    check_reward_alignment(config.reward_foresight, config.dream_reward_weight, config.reward_reads_mean, config.mean_predictor_channels > 0)
    if config.world_model == "jedi":
        model_cfg.update(
            switch_prob=config.switch_prob,
            ema_target_decay=config.ema_target_decay,
            decoder_grad_weight=config.decoder_grad_weight,
            decoder_motion_weight=config.decoder_motion_weight,
            latent_batch_norm=config.latent_batch_norm,
            latent_norm=config.latent_norm,
            predict_delta=config.predict_delta,
            dream_reward_weight=config.dream_reward_weight,
            mean_predictor_channels=(config.mean_predictor_channels,) if config.mean_predictor_channels > 0 else (),
            reward_reads_mean=config.reward_reads_mean,
            reward_reads_standardized=config.reward_reads_standardized,
        )
        if config.denoiser_channels is not None:
            model_cfg["denoiser_channels"] = (config.denoiser_channels,)
    try:
        return build_world_model(config.world_model, model_cfg)
    except ValueError as e:  # options that contradict each other
        raise UserError(str(e)) from None


def drop_metrics_after(path: Path, step: int, key: str = "step") -> None:
    """Keep only the metric rows up to the checkpoint's ``key`` (a killed run logged past it)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get(key, 0) <= step:
                kept.append(line)
        except ValueError:
            pass  # a line cut by the kill
    atomic_write_bytes(path, ("\n".join(kept) + "\n" if kept else "").encode())


def world_model_optimizer(model: WorldModel, lr: float, weight_decay: float, encoder_lr_scale: float = 0.3, fused: bool = True) -> torch.optim.AdamW:
    """AdamW over ``model.parameter_groups``; ``fused`` (one kernel over all parameters) on the CPU and CUDA."""
    device = next(model.parameters()).device
    options = {"fused": True} if fused and device.type in ("cpu", "cuda") else {}
    return torch.optim.AdamW(model.parameter_groups(lr, encoder_lr_scale), weight_decay=weight_decay, **options)


def world_model_update(
    model: WorldModel,
    optimizer: torch.optim.Optimizer,
    base_lrs: list[float],
    batch: Batch,
    step: int,
    warmup: int,
    grad_clip: float,
    objective: nn.Module | None = None,
    precision: str = "fp32",
) -> dict[str, float]:
    """One optimizer step on ``batch`` (learning rate warmed up linearly over ``warmup`` steps); returns its metrics.

    ``objective``: the loss as a DDP-wrapped module (``trainer.distributed.Objective``) in a data-parallel run.
    ``precision``: ``fp32`` or ``bf16`` (``resolve_precision``'s answer).
    """
    warm = min(1.0, (step + 1) / max(1, warmup))
    for g, lr in zip(optimizer.param_groups, base_lrs):
        g["lr"] = lr * warm
    with training_autocast(batch.frames.device, precision):
        loss, metrics = objective(batch) if objective is not None else model.training_loss(batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    metrics["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip))
    optimizer.step()
    model.after_update()
    return metrics


@torch.no_grad()
def validate(model: WorldModel, batches: list[Batch]) -> dict[str, float]:
    """Mean held-out losses over fixed batches, with a fixed noise seed so that runs compare."""
    model.eval()
    state = torch.random.get_rng_state()
    torch.manual_seed(1234)
    totals: dict[str, float] = {}
    for b in batches:
        _, metrics = model.training_loss(b)
        for k, v in metrics.items():
            if not math.isnan(v):
                totals[k] = totals.get(k, 0.0) + v / len(batches)
    torch.random.set_rng_state(state)
    model.train()
    return {f"val_{k}": v for k, v in totals.items()}


def train_world_model(config: WorldModelTrainConfig, *, progress: bool = True) -> dict[str, float]:
    """Train (or resume) a world model; returns the last held-out metrics."""
    game = get_game(config.game)
    store = EpisodeStore.open(config.data)
    if store.game != game.name:
        raise UserError(f"{config.data} holds {store.game} episodes, not {game.name}")
    if config.updates is None and config.minutes is None:
        raise UserError("give --updates N or --minutes M (or both)")
    run_dir = config.out
    ckpt_path = run_dir / CHECKPOINT
    weights_path = run_dir / WEIGHTS_FILE
    if (ckpt_path.exists() or weights_path.exists()) and not config.resume:
        raise UserError(f"{run_dir} already holds a run; add --resume to continue it or choose another --out")
    if config.resume and not ckpt_path.exists() and not weights_path.exists():
        raise UserError(f"{run_dir} has no checkpoint (nor {WEIGHTS_FILE}) to resume from")
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = torch.device("cpu")

    model = new_model(config, len(store.action_meanings)).to(device)
    optimizer = world_model_optimizer(model, config.lr, config.weight_decay, config.encoder_lr_scale)
    precision = resolve_precision(config.precision, device)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    step, offset = 0, 0.0  # offset: training seconds of earlier sessions of this run
    warm_from = 0  # the update the learning rate's warm-up counts from: again after a fresh optimizer
    if config.resume:
        from_weights = not ckpt_path.exists()
        meta = load_checkpoint(weights_path, model) if from_weights else load_checkpoint(ckpt_path, model, optimizer)
        step, offset = int(meta["step"]), float(meta.get("seconds", 0.0))
        if from_weights:
            warm_from = step
            print(f"jedi-train: {run_dir} resumes at update {step} from {WEIGHTS_FILE} (bf16 weights, a fresh optimizer)", flush=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    run_info = {
        "game": game.name,
        "world_model": config.world_model,
        "action_meanings": store.action_meanings,
        "train_config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "model_config": model.cfg.to_dict(),
        "precision": precision,
    }
    (run_dir / "run.json").write_text(json.dumps(run_info, indent=2))

    train_eps, val_eps = split_episodes(store)
    seg_len = model.num_cond_steps + 1
    sampler = SegmentSampler(seg_len, train_eps, seed=config.seed + step)
    val_sampler = SegmentSampler(seg_len, val_eps or train_eps[-1:], seed=999, recent_weight=0.0, recent_fraction=1.0)
    val_batches = [segment_to_batch(val_sampler.sample(config.batch_size), device) for _ in range(8)]

    if config.resume:
        drop_metrics_after(run_dir / "metrics.jsonl", step)
    start = time.monotonic()
    last_ckpt = start
    total = config.updates
    val: dict[str, float] = {}

    def checkpoint() -> None:
        meta = {"step": step, "seconds": offset + time.monotonic() - start}
        save_checkpoint(ckpt_path, model, optimizer, meta)
        save_weights(weights_path, model, meta)

    # the handlers first: once metrics.jsonl exists, a signal checkpoints the run instead of killing it
    with (StopOnSignal() as stop, (run_dir / "metrics.jsonl").open("a") as metrics_file,
          tqdm(total=total, initial=step, desc=f"{config.world_model} world model", unit="upd", disable=not progress, dynamic_ncols=True) as bar):
        while not stop.requested:
            if total is not None and step >= total:
                break
            if config.minutes is not None and time.monotonic() - start >= config.minutes * 60:
                break
            t0 = time.monotonic()
            batch = segment_to_batch(sampler.sample(config.batch_size), device)
            metrics = world_model_update(model, optimizer, base_lrs, batch, step - warm_from, config.warmup, config.grad_clip, precision=precision)
            step += 1
            bar.update(1)
            record = {"step": step, "time": offset + time.monotonic() - start, "update_s": time.monotonic() - t0, **metrics}
            if step % config.val_every == 0:
                val = validate(model, val_batches)
                record.update(val)
                bar.set_postfix(val_denoise=f"{val.get('val_denoise_loss', float('nan')):.4f}")
            metrics_file.write(json.dumps(record) + "\n")
            if step % 20 == 0:
                metrics_file.flush()
                bar.set_postfix(loss=f"{metrics['loss']:.3f}", **({"val_denoise": f"{val['val_denoise_loss']:.4f}"} if val else {}))
            if time.monotonic() - last_ckpt >= config.checkpoint_minutes * 60:
                checkpoint()
                last_ckpt = time.monotonic()
        val = validate(model, val_batches)
        metrics_file.write(json.dumps({"step": step, "time": offset + time.monotonic() - start, **val}) + "\n")
        checkpoint()
    return val
