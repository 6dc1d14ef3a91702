"""JEDI's frame encoder (64x64x3 -> 16x8x8 latents, soft-clamped) and the display-only pixel decoder."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from jedi_play.models.blocks import Conv2d, ResBlock, group_norm


def soft_clamp(z: Tensor, bound: float) -> Tensor:
    """``bound * tanh(z / bound)``: JEDI's latent clamp (bound 3)."""
    return bound * (z / bound).tanh()


class Encoder(nn.Module):
    """Four conv stages with channels ``stage_channels`` (JEDI: 32, 32, 32, 16), the first three halving the size.

    Each halving is one strided 4x4 convolution; a res-block then mixes features at 8x8. Frames are
    encoded six at a time per training example, so the encoder is kept cheap.
    """

    def __init__(self, stage_channels: tuple[int, ...] = (32, 32, 32, 16), clamp: float = 3.0, batch_norm: bool = False) -> None:
        super().__init__()
        self.clamp = clamp
        *down, latent_channels = stage_channels
        layers: list[nn.Module] = []
        prev = 3
        for ch in down:
            layers += [Conv2d(prev, ch, 4, stride=2, padding=1), group_norm(ch), nn.SiLU()]
            prev = ch
        layers += [ResBlock(prev, prev), group_norm(prev), nn.SiLU(), Conv2d(prev, latent_channels, 3, padding=1)]
        if batch_norm:  # unit variance per latent channel over the batch: the latents cannot shrink away
            layers.append(nn.BatchNorm2d(latent_channels, affine=False))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        # x (N, 3, 64, 64) in [-1, 1] -> (N, 16, 8, 8) in (-clamp, clamp)
        return soft_clamp(self.layers(x), self.clamp)


class Decoder(nn.Module):
    """Latents back to pixels, for display only: trained on stop-gradient latents so it never shapes them.

    Most of the work is done at 8x8; each doubling of the size is a sub-pixel convolution (pixel shuffle),
    which keeps decoding cheap enough for the app's frame rate on a CPU.
    """

    def __init__(self, latent_channels: int = 16, stage_channels: tuple[int, ...] = (160, 96, 48)) -> None:
        super().__init__()
        self.conv_in = Conv2d(latent_channels, stage_channels[0], 3, padding=1)
        layers: list[nn.Module] = [ResBlock(stage_channels[0], stage_channels[0])]  # extra capacity at 8x8
        for prev, ch in zip(stage_channels, stage_channels[1:]):
            layers += [ResBlock(prev, prev), Conv2d(prev, 4 * ch, 3, padding=1), nn.PixelShuffle(2)]
        self.stages = nn.Sequential(*layers)
        self.norm_out = group_norm(stage_channels[-1])
        self.conv_out = Conv2d(stage_channels[-1], 3 * 4, 3, padding=1)
        self.shuffle_out = nn.PixelShuffle(2)

    def forward(self, z: Tensor) -> Tensor:
        # z (N, 16, 8, 8) -> (N, 3, 64, 64) in [-1, 1]
        h = self.conv_out(F.silu(self.norm_out(self.stages(self.conv_in(z)))))
        return self.shuffle_out(h).clamp(-1, 1)
