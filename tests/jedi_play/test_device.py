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
