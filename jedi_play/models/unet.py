"""The conditional U-Net inner network ``F`` shared by DIAMOND (4 levels of 64 channels over 64x64 frames)
and JEDI (a single level of 160 channels over 8x8 latents)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from jedi_play.models.blocks import Conv2d, Downsample, NoiseActionEmbedding, ResBlock, Upsample, group_norm, zero_init


@dataclass(frozen=True)
class UNetConfig:
    """Sizes of the denoiser's inner network."""

    channels: int  # channels of the predicted frame or latent
    num_cond_steps: int = 4  # past frames/latents and actions conditioned on
    num_actions: int = 18
    level_channels: tuple[int, ...] = (64, 64, 64, 64)
    depth: int = 2  # res-blocks per level going down (one more going up)
    cond_dim: int = 256
    mid_attention: bool = True


class UNet(nn.Module):
    """``F(c_in * x, c_noise, obs=..., actions=...)``: predicts the next frame's EDM output.

    ``obs`` are the past frames/latents ``(B, T, C, H, W)``, stacked on channels with the noisy input.
    """

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        chs, cd = cfg.level_channels, cfg.cond_dim
        self.embed = NoiseActionEmbedding(cfg.num_actions, cfg.num_cond_steps, cd)
        self.conv_in = Conv2d(cfg.channels * (cfg.num_cond_steps + 1), chs[0], 3, padding=1)
        self.down = nn.ModuleList()
        skip_channels = [chs[0]]
        for i, ch in enumerate(chs):
            blocks = nn.ModuleList()
            prev = chs[max(i - 1, 0)]
            for j in range(cfg.depth):
                blocks.append(ResBlock(prev if j == 0 else ch, ch, cd))
                skip_channels.append(ch)
            self.down.append(blocks)
            if i < len(chs) - 1:
                self.down.append(Downsample(ch))
                skip_channels.append(ch)
        self.mid = nn.ModuleList([ResBlock(chs[-1], chs[-1], cd, attention=cfg.mid_attention), ResBlock(chs[-1], chs[-1], cd)])
        self.up = nn.ModuleList()
        for i in reversed(range(len(chs))):
            blocks = nn.ModuleList()
            for j in range(cfg.depth + 1):
                in_ch = (chs[i] if j > 0 else chs[min(i + 1, len(chs) - 1)]) + skip_channels.pop()
                blocks.append(ResBlock(in_ch, chs[i], cd))
            self.up.append(blocks)
            if i > 0:
                self.up.append(Upsample(chs[i]))
        self.norm_out = group_norm(chs[0])
        self.conv_out = zero_init(Conv2d(chs[0], cfg.channels, 3, padding=1))

    def forward(self, x: Tensor, c_noise: Tensor, *, obs: Tensor, actions: Tensor) -> Tensor:
        # x (B, C, H, W) noisy target scaled by c_in; obs (B, T, C, H, W); actions (B, T)
        cond = self.embed(c_noise, actions)
        h = self.conv_in(torch.cat([obs.flatten(1, 2), x], dim=1))
        skips = [h]
        for layer in self.down:
            if isinstance(layer, nn.ModuleList):
                for block in layer:
                    h = block(h, cond)
                    skips.append(h)
            else:
                h = layer(h)
                skips.append(h)
        for block in self.mid:
            h = block(h, cond)
        for layer in self.up:
            if isinstance(layer, nn.ModuleList):
                for block in layer:
                    h = block(torch.cat([h, skips.pop()], dim=1), cond)
            else:
                h = layer(h)
        return self.conv_out(F.silu(self.norm_out(h)))
