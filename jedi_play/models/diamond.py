"""The DIAMOND world model (REFERENCE.md section 3): EDM diffusion over 64x64 frames, with offset noise,
outputs clamped to [-1, 1] and quantised to 256 levels, and a reward/termination model over frames."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from jedi_play.diffusion import Denoiser, EDMConfig
from jedi_play.models.reward_end import RewardEndConfig, RewardEndModel
from jedi_play.models.unet import UNet, UNetConfig
from jedi_play.models.world_model import Batch, JSONConfig, SamplerConfig, WorldModel, frames_to_tensor, tensor_to_frames


@dataclass(frozen=True)
class DIAMONDConfig(JSONConfig):
    num_actions: int
    num_cond_steps: int = 4
    denoiser_channels: tuple[int, ...] = (64, 64, 64, 64)
    denoiser_depth: int = 2
    reward_end_channels: tuple[int, ...] = (32, 32, 32, 32)
    reward_end_lstm: int = 512
    reward_foresight: bool = False  # not in the paper: ``RewardEndConfig.foresight``
    edm: EDMConfig = field(default_factory=lambda: EDMConfig(sigma_offset=0.3))
    sampler: SamplerConfig = field(default_factory=SamplerConfig)


class DIAMONDWorldModel(WorldModel):
    def __init__(self, cfg: DIAMONDConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_cond_steps = cfg.num_cond_steps
        self.sampler = cfg.sampler
        unet = UNet(UNetConfig(3, cfg.num_cond_steps, cfg.num_actions, cfg.denoiser_channels, cfg.denoiser_depth))
        self.denoiser = Denoiser(unet, cfg.edm)
        self.reward_end = RewardEndModel(
            RewardEndConfig(3, 64, cfg.num_actions, cfg.reward_end_channels, lstm_dim=cfg.reward_end_lstm, foresight=cfg.reward_foresight)
        )

    def to_states(self, frames: Tensor) -> Tensor:
        return frames_to_tensor(frames)

    def to_frames(self, states: Tensor) -> Tensor:
        return tensor_to_frames(states)

    def postprocess(self, state: Tensor) -> Tensor:
        """Clamp to [-1, 1] and quantise to the 256 levels of a uint8 frame."""
        return state.clamp(-1, 1).add(1).mul(127.5).round().div(127.5).sub(1)

    def training_loss(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """Denoising loss on the segment's last frame given the ``num_cond_steps`` before it, plus reward/termination."""
        n = self.num_cond_steps
        frames = batch.frames
        denoise_loss, _, _ = self.denoiser.loss(frames[:, -1], obs=frames[:, -1 - n : -1], actions=batch.actions[:, -n:])
        re_loss, re_metrics = self.reward_end.loss(self.reward_window_inputs(frames, batch.actions), batch.rewards, batch.ends, batch.mask[:, :-1])
        loss = denoise_loss + re_loss
        return loss, {"loss": loss.item(), "denoise_loss": denoise_loss.item(), **re_metrics}

    def parameter_groups(self, lr: float, encoder_lr_scale: float = 0.3) -> list[dict]:
        return [{"params": list(self.parameters()), "lr": lr}]
