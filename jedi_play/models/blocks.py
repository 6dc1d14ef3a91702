"""Building blocks of the world models: noise/action conditioning, adaptive group norm, res-blocks, attention."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def zero_init(module: nn.Module) -> nn.Module:
    """Zero a layer's weights and bias, so a residual branch or output head starts as identity / zero."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` that sends inference on small CPU inputs to oneDNN.

    PyTorch runs a float32 convolution whose input has batch 1 and fewer than 20480 values on its
    im2col fallback, which on this project's 8x8 latents is about 1.5-2x slower than oneDNN. When no
    gradient is needed the layer calls oneDNN directly; training and other devices are unchanged.
    """

    def forward(self, x: Tensor) -> Tensor:
        if (
            _MKLDNN
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and not torch.is_grad_enabled()
            and self.padding_mode == "zeros"
            and not torch.compiler.is_compiling()  # the compiler picks its own kernels
        ):
            return torch.ops.aten.mkldnn_convolution(x, self.weight, self.bias, self.padding, self.stride, self.dilation, self.groups)
        return super().forward(x)


_MKLDNN = torch.backends.mkldnn.is_available()


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(max(1, min(32, channels // 4)), channels, eps=1e-5)


class FourierFeatures(nn.Module):
    """Fixed random Fourier features of a scalar (EDM's ``c_noise``): ``(B,) -> (B, dim)``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        assert dim % 2 == 0
        self.register_buffer("weight", torch.randn(1, dim // 2))

    def forward(self, x: Tensor) -> Tensor:
        f = 2 * math.pi * x[:, None] * self.weight  # (B, dim/2)
        return torch.cat([f.cos(), f.sin()], dim=-1)


class NoiseActionEmbedding(nn.Module):
    """The conditioning vector: Fourier features of ``c_noise`` plus embeddings of the last actions -> MLP."""

    def __init__(self, num_actions: int, num_steps: int, dim: int) -> None:
        super().__init__()
        assert dim % num_steps == 0
        self.noise = FourierFeatures(dim)
        self.actions = nn.Embedding(num_actions, dim // num_steps)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, c_noise: Tensor, actions: Tensor) -> Tensor:
        # c_noise (B,), actions (B, num_steps) -> (B, dim)
        return self.mlp(self.noise(c_noise) + self.actions(actions).flatten(1))


class AdaGroupNorm(nn.Module):
    """Group norm whose scale and shift come from the conditioning vector: ``x * (1 + scale) + shift``."""

    def __init__(self, channels: int, cond_dim: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(group_norm(channels).num_groups, channels, affine=False)
        self.linear = nn.Linear(cond_dim, 2 * channels)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        scale, shift = self.linear(cond)[:, :, None, None].chunk(2, dim=1)
        return self.norm(x) * (1 + scale) + shift


class SelfAttention2d(nn.Module):
    """Multi-head self-attention over the pixels of a feature map, as a residual branch."""

    def __init__(self, channels: int, head_dim: int = 32) -> None:
        super().__init__()
        self.heads = max(1, channels // head_dim)
        self.norm = group_norm(channels)
        self.qkv = Conv2d(channels, 3 * channels, 1)
        self.proj = zero_init(Conv2d(channels, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).transpose(-1, -2).unbind(1)
        y = F.scaled_dot_product_attention(q, k, v)  # (B, heads, HW, C/heads)
        return x + self.proj(y.transpose(-1, -2).reshape(b, c, h, w))


class ResBlock(nn.Module):
    """Pre-norm residual block; with ``cond_dim`` its norms are adaptive (conditioned on noise and actions)."""

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int | None = None, attention: bool = False) -> None:
        super().__init__()
        self.conditioned = cond_dim is not None
        self.norm1 = AdaGroupNorm(in_channels, cond_dim) if cond_dim else group_norm(in_channels)
        self.conv1 = Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = AdaGroupNorm(out_channels, cond_dim) if cond_dim else group_norm(out_channels)
        self.conv2 = zero_init(Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        self.attention = SelfAttention2d(out_channels) if attention else nn.Identity()

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        norm = (lambda n, t: n(t, cond)) if self.conditioned else (lambda n, t: n(t))
        h = self.conv1(F.silu(norm(self.norm1, x)))
        h = self.conv2(F.silu(norm(self.norm2, h)))
        return self.attention(self.skip(x) + h)


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def run_lstm(lstm: nn.LSTM, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """A one-layer batch-first ``nn.LSTM`` over ``x`` (B, T, F); on CPU without autograd, step by step.

    oneDNN's CPU LSTM repacks its weights on every call, about 4 ms at batch 1 for one step of a
    512-unit LSTM, where the gate equations of ``nn.LSTM``'s documentation take a few hundred microseconds.
    """
    if torch.is_grad_enabled() or x.device.type != "cpu":
        return lstm(x, state)
    assert lstm.num_layers == 1 and lstm.batch_first and not lstm.bidirectional and lstm.proj_size == 0
    b = x.shape[0]
    h, c = (x.new_zeros(b, lstm.hidden_size), x.new_zeros(b, lstm.hidden_size)) if state is None else (state[0][0], state[1][0])
    gates_x = F.linear(x, lstm.weight_ih_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0)  # (B, T, 4H)
    outputs = []
    for t in range(x.shape[1]):
        i, f, g, o = (gates_x[:, t] + F.linear(h, lstm.weight_hh_l0)).chunk(4, dim=1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        outputs.append(h)
    return torch.stack(outputs, dim=1), (h[None], c[None])
