"""The JEDI world model (REFERENCE.md section 4): latent diffusion with a self-consistency objective.

The encoder maps frames to 16x8x8 latents. The denoiser predicts the next latent from the last four
latents and actions; its target is the encoder's own latent of the real next frame under stop-gradient.
The encoder learns only through the conditioning latents and the reward/termination loss (plus, as an
ablation, a weighted decoder loss). Random switching: for each batch a coin decides whether the second
prediction of a segment is conditioned on the denoiser's own output for the first or on the encoder's.
The pixel decoder reads stop-gradient latents and exists for display.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.nn import functional as F

from jedi_play.diffusion import Denoiser, EDMConfig
from jedi_play.models.autoencoder import Decoder, Encoder, soft_clamp
from jedi_play.models.mean_predictor import MeanPredictor
from jedi_play.models.reward_end import RewardEndConfig, RewardEndModel
from jedi_play.models.unet import UNet, UNetConfig
from jedi_play.models.world_model import Batch, JSONConfig, SamplerConfig, WorldModel, frames_to_tensor, tensor_to_frames

# A mean predictor learns the action's effect about twice as fast per update at 1e-3 as at 3e-4, the CPU
# runs' world-model rate (docs/agents.md); its regression is a plain MSE and takes the bigger steps.
MEAN_PREDICTOR_LR_SCALE = 3.0


@dataclass(frozen=True)
class JEDIConfig(JSONConfig):
    num_actions: int
    num_cond_steps: int = 4
    encoder_channels: tuple[int, ...] = (32, 32, 32, 16)  # the last is the latent's channel count
    latent_clamp: float = 3.0
    latent_batch_norm: bool = False  # not in the paper: normalise latents over the batch against scale collapse
    denoiser_channels: tuple[int, ...] = (160,)  # one level, no downsampling at 8x8
    denoiser_depth: int = 2
    decoder_channels: tuple[int, ...] = (160, 96, 48)
    reward_end_channels: tuple[int, ...] = (64, 64)
    reward_end_lstm: int = 512
    edm: EDMConfig = field(default_factory=EDMConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    # training options; the paper's ablations are off by default
    switch_prob: float = 0.5  # 0 disables random switching
    ema_target_decay: float = 0.0  # > 0: targets come from an EMA copy of the encoder
    decoder_grad_weight: float = 0.0  # > 0: the decoder loss also trains the encoder, with this weight
    # not in the paper: > 0 weighs the decoder's squared error on pixels that changed since the frame before
    # by 1 + this, normalised over the frame (``motion_weighted_mse``): a ball of a few pixels is a thousandth
    # of the frame, and without this the latents lose Breakout's (docs/agents.md, "Where the ball goes")
    decoder_motion_weight: float = 0.0
    # not in the paper: > 0 adds, with this weight, the reward/termination loss on a transition whose next
    # latent is the denoiser's own sample (the dream's sampler, real labels): the model learns to read
    # rewards from what dreams look like, not only from real next latents (docs/agents.md)
    dream_reward_weight: float = 0.0
    # not in the paper: read each step's reward and end from the transition before it and the action
    # (``RewardEndConfig.foresight``), so a dream's rewards do not depend on its sampled next latent
    reward_foresight: bool = False
    # not in the paper: the denoiser works on latents centred and scaled by running statistics of the
    # encoder's output, ``(z - mean) / std * sigma_data``, so that EDM's noise levels match their scale
    # whatever it drifts to, and shrinking the latents no longer lowers the denoising loss (docs/agents.md)
    latent_norm: bool = False
    latent_norm_momentum: float = 0.02
    # not in the paper: the denoiser produces the change from the last latent, ``z_t+1 - z_t`` (scaled by
    # its running std with ``latent_norm``), so copying the last latent is its zero output
    predict_delta: bool = False
    # not in the paper: the level channels of a regression network (``MeanPredictor``) that predicts the next
    # latent's conditional mean in the denoiser's space by mean squared error; the denoiser diffuses the
    # residual around it. () = off. The regression learns the action's effect far sooner (docs/agents.md)
    mean_predictor_channels: tuple[int, ...] = ()
    # not in the paper: each step's reward and end are read from ``(z_t, a_t, m_t+1)``, where ``m_t+1`` is the
    # mean predictor's regressed next latent (stop-gradient), in training as in a dream: the reward model never
    # reads a real next latent it will not have in a dream, nor a sampled one; its input is a function of the
    # context and the action alone (docs/agents.md)
    reward_reads_mean: bool = False
    # not in the paper: the reward/termination model reads latents standardised by the running statistics
    # (``latent_norm``), as the denoiser and the agent do: JEDI's latents drift to a fixed pattern with a small
    # spread around it (std 0.009 after 1,000 Boxing updates), and raw, the states' differences are 1e-3 of
    # what the reward model reads (docs/agents.md)
    reward_reads_standardized: bool = False

    def __post_init__(self) -> None:
        if not self.decoder_motion_weight >= 0:
            raise ValueError(f"decoder_motion_weight must be at least 0, got {self.decoder_motion_weight}")
        if self.reward_reads_standardized and not self.latent_norm:
            raise ValueError("reward_reads_standardized reads latents standardised by latent_norm's statistics: set latent_norm")
        if self.reward_foresight and self.dream_reward_weight > 0:
            raise ValueError("dream_reward_weight trains the reward model on sampled next latents, which reward_foresight does not read")
        if self.reward_reads_mean:
            if not self.mean_predictor_channels:
                raise ValueError("reward_reads_mean reads the mean predictor's next latent: set mean_predictor_channels")
            if self.reward_foresight or self.dream_reward_weight > 0:
                raise ValueError("reward_reads_mean does not combine with reward_foresight or dream_reward_weight")

    @property
    def latent_channels(self) -> int:
        return self.encoder_channels[-1]


MOTION_THRESHOLD = 0.1  # a pixel "moved" where a channel changed by more than this (frames in [-1, 1]: ~13 of 255)


def moved_pixels(frame: Tensor, previous: Tensor) -> Tensor:
    """Frames ``(B, 3, H, W)`` in [-1, 1] -> ``(B, 1, H, W)`` bool: where a channel changed by more than ``MOTION_THRESHOLD``."""
    return (frame - previous).abs().amax(dim=1, keepdim=True) > MOTION_THRESHOLD


def motion_weighted_mse(recon: Tensor, frame: Tensor, previous: Tensor, weight: float) -> Tensor:
    """Squared error of ``recon`` against ``frame`` (both ``(B, 3, H, W)``), each pixel weighted by ``1 + weight``
    where ``frame`` differs from ``previous`` and by 1 elsewhere, normalised by the weights' sum per frame.

    With ``weight = 0`` it is the plain mean squared error. Normalised, the loss keeps the plain error's
    scale however much of the frame moves; only its share between moving and still pixels changes.
    """
    if weight == 0:
        return F.mse_loss(recon, frame)
    w = 1 + weight * moved_pixels(frame, previous).to(recon.dtype)  # (B, 1, H, W)
    per_pixel = (recon - frame).pow(2).mean(dim=1, keepdim=True)  # (B, 1, H, W)
    return ((w * per_pixel).sum(dim=(1, 2, 3)) / w.sum(dim=(1, 2, 3))).mean()


class JEDIWorldModel(WorldModel):
    def __init__(self, cfg: JEDIConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_cond_steps = cfg.num_cond_steps
        self.sampler = cfg.sampler
        c = cfg.latent_channels
        self.encoder = Encoder(cfg.encoder_channels, cfg.latent_clamp, cfg.latent_batch_norm)
        unet = UNet(UNetConfig(c, cfg.num_cond_steps, cfg.num_actions, cfg.denoiser_channels, cfg.denoiser_depth))
        self.denoiser = Denoiser(unet, cfg.edm)
        self.reward_end = RewardEndModel(
            RewardEndConfig(c, 8, cfg.num_actions, cfg.reward_end_channels, lstm_dim=cfg.reward_end_lstm, foresight=cfg.reward_foresight)
        )
        self.decoder = Decoder(c, cfg.decoder_channels)
        self.mean_predictor: MeanPredictor | None = None
        if cfg.mean_predictor_channels:
            self.mean_predictor = MeanPredictor(UNetConfig(c, cfg.num_cond_steps, cfg.num_actions, cfg.mean_predictor_channels, cfg.denoiser_depth))
        if cfg.latent_norm:  # running statistics of the latents over the batch: per-element mean, one std
            self.register_buffer("latent_mean", torch.zeros(c, 8, 8))
            self.register_buffer("latent_std", torch.ones(()))
            self.register_buffer("delta_std", torch.ones(()))
            self.register_buffer("latent_stats_updates", torch.zeros((), dtype=torch.long))
        self.target_encoder: Encoder | None = None
        if cfg.ema_target_decay > 0:
            self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)

    # -- the interface of the dream env ------------------------------------------------------------

    def encode(self, x: Tensor) -> Tensor:
        """Frames ``(B, T, 3, 64, 64)`` in [-1, 1] -> latents ``(B, T, 16, 8, 8)``."""
        return self.encoder(x.flatten(0, 1)).unflatten(0, x.shape[:2])

    def to_states(self, frames: Tensor) -> Tensor:
        return self.encode(frames_to_tensor(frames))

    def to_frames(self, states: Tensor) -> Tensor:
        return tensor_to_frames(self.decoder(states))

    def postprocess(self, state: Tensor) -> Tensor:
        return soft_clamp(state, self.cfg.latent_clamp)

    def diffusion_inputs(self, states: Tensor) -> Tensor:
        if not self.cfg.latent_norm:
            return states
        return self.standardized(states) * self.cfg.edm.sigma_data

    def diffusion_target(self, next_state: Tensor, states: Tensor) -> Tensor:
        sd = self.cfg.edm.sigma_data
        if self.cfg.predict_delta:
            delta = next_state - states[:, -1]
            return delta * (sd / self.delta_std) if self.cfg.latent_norm else delta
        return self.diffusion_inputs(next_state[:, None])[:, 0]

    def next_from_diffusion(self, x: Tensor, states: Tensor) -> Tensor:
        sd, norm = self.cfg.edm.sigma_data, self.cfg.latent_norm
        if self.cfg.predict_delta:
            return states[:, -1] + (x * (self.delta_std / sd) if norm else x)
        return x * (self.latent_std / sd) + self.latent_mean if norm else x

    def mean_prediction(self, obs: Tensor, actions: Tensor) -> Tensor | None:
        return None if self.mean_predictor is None else self.mean_predictor(obs, actions)

    def regressed_next(self, states: Tensor, actions: Tensor) -> Tensor:
        """The mean predictor's next latent ``(B, C, 8, 8)`` after ``states`` (B, n, ...) and ``actions`` (B, n)."""
        mean = self.mean_prediction(self.diffusion_inputs(states), actions)
        assert mean is not None, "regressed_next needs a mean predictor"
        return self.postprocess(self.next_from_diffusion(mean, states))

    def state_statistics(self) -> tuple[Tensor, Tensor] | None:
        if not self.cfg.latent_norm:
            return None
        return self.latent_mean, self.latent_std

    def standardized(self, states: Tensor) -> Tensor:
        """Latents ``(..., C, 8, 8)`` centred and scaled to unit spread by the running statistics (``latent_norm``)."""
        return (states - self.latent_mean) / self.latent_std

    def reward_window_inputs(self, states: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self._reward_view(self._reward_window_inputs(states, actions))

    def reward_step_inputs(
        self, states: Tensor, actions: Tensor, next_state: Tensor, regressed: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        return self._reward_view(self._reward_step_inputs(states, actions, next_state, regressed))

    def _reward_view(self, inputs: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """The reward model's inputs as it reads them: standardised with ``reward_reads_standardized``."""
        if not self.cfg.reward_reads_standardized:
            return inputs
        x, actions, next_x = inputs
        return self.standardized(x), actions, self.standardized(next_x)

    def _reward_window_inputs(
        self, states: Tensor, actions: Tensor, known: dict[int, tuple[Tensor, Tensor]] | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``known``: for some steps ``t``, the mean predictor's output (in the denoiser's space) and the context it
        read, already computed on the same inputs (``training_loss``'s two predictions): not run again."""
        if not self.cfg.reward_reads_mean:
            return super().reward_window_inputs(states, actions)
        known = known or {}
        # step t reads the regression from the n states up to z_t; before the window, z_0 repeats after NOOPs
        n, (b, t) = self.num_cond_steps, actions.shape
        padded = torch.cat([states[:, :1].expand(-1, n - 1, *states.shape[2:]), states[:, :t]], dim=1)  # (B, T + n - 1, ...)
        padded_actions = torch.cat([actions.new_zeros(b, n - 1), actions], dim=1)
        contexts = padded.unfold(1, n, 1).movedim(-1, 2)  # (B, T, n, C, 8, 8)
        todo = [i for i in range(t) if i not in known]
        nexts: list[Tensor | None] = [None] * t
        with torch.no_grad():  # the regression learns from its own loss only; the reward model reads its output
            if todo:
                computed = self.regressed_next(contexts[:, todo].flatten(0, 1), padded_actions.unfold(1, n, 1)[:, todo].flatten(0, 1))
                for i, nxt in zip(todo, computed.unflatten(0, (b, len(todo))).unbind(1)):
                    nexts[i] = nxt
            for i, (mean, context) in known.items():
                nexts[i] = self.postprocess(self.next_from_diffusion(mean.detach(), context.detach()))
        return states[:, :t], actions, torch.stack(nexts, dim=1)  # type: ignore[arg-type]

    def _reward_step_inputs(
        self, states: Tensor, actions: Tensor, next_state: Tensor, regressed: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        if not self.cfg.reward_reads_mean:
            return super().reward_step_inputs(states, actions, next_state)
        if regressed is None:
            regressed = self.regressed_next(states, actions)
        return states[:, -1:], actions[:, -1:], regressed[:, None]

    @torch.no_grad()
    def update_latent_stats(self, z: Tensor) -> None:
        """Move the running statistics towards the batch's latents ``(B, T, C, 8, 8)`` (the first batch sets them)."""
        z = z.detach().float()
        flat = z.flatten(0, 1)  # (N, C, 8, 8)
        mean, std = flat.mean(0), flat.var(0).mean().sqrt().clamp_min(1e-6)  # std of a latent element over the batch
        delta_std = (z[:, 1:] - z[:, :-1]).pow(2).mean().sqrt().clamp_min(1e-6)  # RMS change of a latent element per step
        m = 1.0 if int(self.latent_stats_updates) == 0 else self.cfg.latent_norm_momentum
        self.latent_mean.lerp_(mean, m)
        self.latent_std.lerp_(std, m)
        self.delta_std.lerp_(delta_std, m)
        self.latent_stats_updates += 1

    # -- training ----------------------------------------------------------------------------------

    def training_loss(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """Self-consistency denoising loss on two chained predictions, reward/termination and decoder losses.

        ``batch`` holds segments of ``num_cond_steps + 1`` steps (``num_cond_steps + 2`` frames).
        """
        n = self.num_cond_steps
        assert batch.frames.shape[1] == n + 2, "JEDI trains on segments of num_cond_steps + 1 steps"
        z = self.encode(batch.frames)  # (B, n + 2, C, 8, 8), gradients flow into the encoder
        if self.target_encoder is not None:
            with torch.no_grad():
                targets = self.target_encoder(batch.frames[:, n:].flatten(0, 1)).unflatten(0, (z.shape[0], 2))
        else:
            targets = z[:, n:].detach()  # stop-gradient on the target latents
        if self.cfg.latent_norm and self.training:
            self.update_latent_stats(z)
        obs1 = z[:, :n]
        target1 = self.diffusion_target(targets[:, 0], obs1.detach())
        switched = bool(torch.rand(()) < self.cfg.switch_prob)
        if switched:  # the second prediction conditions on the first's output: one after the other
            loss1, mean_loss1, denoised, mean1 = self.denoising_loss(target1, self.diffusion_inputs(obs1), batch.actions[:, :n])
            next_cond = self.postprocess(self.next_from_diffusion(denoised.detach(), obs1.detach()))
            obs2 = torch.cat([z[:, 1:n], next_cond[:, None]], dim=1)
            target2 = self.diffusion_target(targets[:, 1], obs2.detach())
            loss2, mean_loss2, _, mean2 = self.denoising_loss(target2, self.diffusion_inputs(obs2), batch.actions[:, 1 : n + 1])
            denoise_loss, mean_loss = (loss1 + loss2) / 2, (mean_loss1 + mean_loss2) / 2
            switched_loss = loss2.item()
        else:  # both on real latents: one call on the two predictions' batches side by side (the mean of equal halves)
            obs2 = z[:, 1 : n + 1]
            target2 = self.diffusion_target(targets[:, 1], obs2.detach())
            both = torch.cat([obs1, obs2])
            denoise_loss, mean_loss, _, means = self.denoising_loss(
                torch.cat([target1, target2]), self.diffusion_inputs(both), torch.cat([batch.actions[:, :n], batch.actions[:, 1 : n + 1]])
            )
            mean1, mean2 = (None, None) if means is None else means.chunk(2)
            switched_loss = float("nan")

        # the reward model's regressed next latents at the two predictions' steps are the ones just computed
        known = {} if mean1 is None else {n - 1: (mean1, obs1)} | ({n: (mean2, obs2)} if not switched and mean2 is not None else {})
        re_inputs = self._reward_view(self._reward_window_inputs(z, batch.actions, known))
        re_loss, re_metrics = self.reward_end.loss(re_inputs, batch.rewards, batch.ends, batch.mask[:, :-1])
        if self.cfg.dream_reward_weight > 0:
            dream_loss, dream_metrics = self.dream_reward_loss(z, batch)
            re_loss = re_loss + self.cfg.dream_reward_weight * dream_loss
            re_metrics.update(dream_metrics)

        w = self.cfg.decoder_grad_weight
        z_dec = z.detach() if w == 0 else z.detach() + w * (z - z.detach())  # forward value z, gradient scaled by w
        recon = self.decoder(z_dec[:, -1])  # the newest frame of each segment: always real
        decoder_loss = motion_weighted_mse(recon, batch.frames[:, -1], batch.frames[:, -2], self.cfg.decoder_motion_weight)

        loss = denoise_loss + mean_loss + re_loss + decoder_loss  # mean_loss: 0 without a mean predictor
        metrics = {
            "loss": loss.item(),
            "denoise_loss": denoise_loss.item(),
            **({"mean_loss": mean_loss.item()} if self.mean_predictor is not None else {}),
            "denoise_loss_switched": switched_loss,
            **re_metrics,
            "decoder_loss": decoder_loss.item(),
            "latent_std": z.detach().std(dim=0).mean().item(),
        }
        return loss, metrics

    def denoising_loss(self, target: Tensor, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """EDM loss of one prediction in the denoiser's space: ``(loss, mean_loss, denoised, mean)``.

        With a mean predictor, it regresses ``target`` and the denoiser learns the residual around its
        (stop-gradient) ``mean``; ``denoised`` adds the mean back. Without one, ``mean_loss`` is 0 and ``mean`` None.
        """
        mean = self.mean_prediction(obs, actions)
        if mean is None:
            loss, _, denoised = self.denoiser.loss(target, obs=obs, actions=actions)
            return loss, target.new_zeros(()), denoised, None
        mean_loss = F.mse_loss(mean, target)
        mean = mean.detach()
        loss, _, denoised = self.denoiser.loss(target - mean, obs=obs, actions=actions)
        return loss, mean_loss, denoised + mean, mean

    def dream_reward_loss(self, z: Tensor, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """Reward/termination loss on the transition into step ``n`` with a sampled next latent.

        The first ``n - 1`` transitions are real and only carry the LSTM's state; the loss counts the last,
        whose next latent comes from ``predict_next`` as in a dream (no gradient into the denoiser).
        """
        n = self.num_cond_steps
        with torch.no_grad():
            dreamed = self.predict_next(z[:, :n], batch.actions[:, :n])  # (B, C, 8, 8)
        window = torch.cat([z[:, :n], dreamed[:, None]], dim=1)  # (B, n + 1, C, 8, 8)
        last_only = torch.zeros_like(batch.mask[:, :n])
        last_only[:, -1] = batch.mask[:, n - 1]
        if not last_only.any():  # every segment starts too near its episode's start: nothing to learn here
            return z.new_zeros(()), {}
        inputs = self.reward_window_inputs(window, batch.actions[:, :n])
        loss, metrics = self.reward_end.loss(inputs, batch.rewards[:, :n], batch.ends[:, :n], last_only)
        return loss, {f"dream_{k}": v for k, v in metrics.items()}

    def after_update(self) -> None:
        self.update_target_encoder()

    @torch.no_grad()
    def update_target_encoder(self) -> None:
        """EMA update of the target encoder (only with ``ema_target_decay > 0``)."""
        if self.target_encoder is None:
            return
        d = self.cfg.ema_target_decay
        for pt, p in zip(self.target_encoder.parameters(), self.encoder.parameters()):
            pt.lerp_(p, 1 - d)

    def parameter_groups(self, lr: float, encoder_lr_scale: float = 0.3) -> list[dict]:
        """Optimizer groups: the encoder learns at ``encoder_lr_scale`` times the others' rate, a mean
        predictor at ``MEAN_PREDICTOR_LR_SCALE`` times (a third group, only when the model has one)."""
        own = ("encoder.", "target_encoder.", "mean_predictor.")
        others = [p for name, p in self.named_parameters() if not name.startswith(own)]
        groups = [{"params": list(self.encoder.parameters()), "lr": lr * encoder_lr_scale}, {"params": others, "lr": lr}]
        if self.mean_predictor is not None:
            groups.append({"params": list(self.mean_predictor.parameters()), "lr": lr * MEAN_PREDICTOR_LR_SCALE})
        return groups
