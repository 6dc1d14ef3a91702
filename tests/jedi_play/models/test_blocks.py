"""The inference fast paths in ``blocks`` give the same numbers as the PyTorch layers they stand in for."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from jedi_play.models.blocks import Conv2d, run_lstm


@pytest.mark.parametrize("batch, channels, size, stride", [(1, 160, 8, 1), (1, 32, 64, 2), (3, 16, 8, 1)])
def test_conv2d_inference_matches_autograd_path(batch: int, channels: int, size: int, stride: int) -> None:
    torch.manual_seed(0)
    conv = Conv2d(channels, 24, 3, stride=stride, padding=1)
    x = torch.randn(batch, channels, size, size)
    reference = F.conv2d(x, conv.weight, conv.bias, stride, 1)
    with torch.inference_mode():
        fast = conv(x)
    assert fast.shape == reference.shape
    torch.testing.assert_close(fast, reference.detach(), rtol=1e-4, atol=1e-5)


def test_conv2d_trains_like_nn_conv2d() -> None:
    torch.manual_seed(0)
    conv = Conv2d(4, 6, 3, padding=1)
    plain = nn.Conv2d(4, 6, 3, padding=1)
    plain.load_state_dict(conv.state_dict())
    x = torch.randn(2, 4, 8, 8)
    conv(x).square().sum().backward()
    plain(x).square().sum().backward()
    torch.testing.assert_close(conv.weight.grad, plain.weight.grad)


@pytest.mark.parametrize("with_state", [False, True])
def test_run_lstm_matches_nn_lstm(with_state: bool) -> None:
    torch.manual_seed(0)
    lstm = nn.LSTM(20, 16, batch_first=True)
    x = torch.randn(3, 5, 20)
    state = (torch.randn(1, 3, 16), torch.randn(1, 3, 16)) if with_state else None
    out_ref, (h_ref, c_ref) = lstm(x, state)
    with torch.no_grad():
        out, (h, c) = run_lstm(lstm, x, state)
    torch.testing.assert_close(out, out_ref.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, h_ref.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c, c_ref.detach(), rtol=1e-5, atol=1e-6)
    # stepping one step at a time carries the state like one call over the whole sequence
    with torch.no_grad():
        carried = state
        for t in range(x.shape[1]):
            step_out, carried = run_lstm(lstm, x[:, t : t + 1], carried)
    torch.testing.assert_close(step_out[:, 0], out_ref[:, -1].detach(), rtol=1e-5, atol=1e-6)
