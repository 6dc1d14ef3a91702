"""Device choice: auto picks what exists; asking for a device this machine lacks is a one-line error."""

from __future__ import annotations

import pytest
import torch

from jedi_play.cli.errors import UserError
from jedi_play.device import describe_device, resolve_device


def test_auto_and_cpu() -> None:
    auto = resolve_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert describe_device(torch.device("cpu")).startswith(f"cpu ({torch.get_num_threads()} threads)")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_a_user_error() -> None:
    with pytest.raises(UserError) as e:
        resolve_device("cuda")
    assert "--device cuda" in str(e.value) and "\n" not in str(e.value)


def test_unknown_device() -> None:
    with pytest.raises(UserError):
        resolve_device("tpu")


def test_training_runs_in_float32_off_cuda() -> None:
    from jedi_play.device import training_autocast

    with training_autocast(torch.device("cpu")):
        y = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert y.dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_trains_under_bf16_autocast_with_float32_heads() -> None:
    from jedi_play.device import training_autocast
    from jedi_play.models.actor_critic import ActorCritic, ActorCriticConfig

    device = resolve_device("cuda")
    assert torch.backends.cuda.matmul.allow_tf32
    agent = ActorCritic(ActorCriticConfig(num_actions=4, in_channels=3, size=64)).to(device)
    with training_autocast(device):
        logits, value, _ = agent(torch.rand(2, 3, 64, 64, device=device), agent.initial_state(2, device))
    assert logits.dtype == value.dtype == torch.float32
