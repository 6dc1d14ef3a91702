"""Device choice: auto picks what exists; asking for a device this machine lacks is a one-line error.
CPU threads: fewer on a busy machine, unless OMP_NUM_THREADS or --threads says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from jedi_play.cli.errors import UserError
from jedi_play import device as device_module
from jedi_play.device import busy_cores, configure_threads, describe_device, flush_denormals, resolve_device, threads_for_load, usable_cores


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


def test_precision_settings() -> None:
    from jedi_play.device import cpu_has_bf16, resolve_precision, training_autocast

    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", cpu) == ("bf16" if cpu_has_bf16() else "fp32")
    with pytest.raises(UserError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", cpu)
    layer = torch.nn.Linear(4, 4)
    with training_autocast(cpu, "bf16"):
        y = layer(torch.randn(2, 4))
    assert y.dtype == torch.bfloat16 and layer.weight.dtype == torch.float32
    with training_autocast(cpu, "fp32"):
        assert layer(torch.randn(2, 4)).dtype == torch.float32


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


@pytest.mark.parametrize(
    ("cores", "load", "threads"),
    [
        (2, 0.0, 2),  # an idle machine: every core
        (2, 0.4, 2),
        (2, 0.5, 1),  # halves round up
        (2, 1.0, 1),  # another process on one core: one thread (33 instead of 5 dream frames per second)
        (2, 2.6, 1),  # never fewer than one
        (8, 2.4, 6),
        (8, 7.5, 1),
        (4, None, 4),  # no load average (Windows): every core
        (1, 0.0, 1),
    ],
)
def test_threads_for_load(cores: int, load: float | None, threads: int) -> None:
    assert threads_for_load(cores, load) == threads


def test_configure_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    monkeypatch.setattr(device_module, "usable_cores", lambda: 2)
    monkeypatch.setattr(device_module, "busy_cores", lambda: 1.2)
    try:
        torch.set_num_threads(2)
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert configure_threads(None) == "" and torch.get_num_threads() == 2  # the user's OMP_NUM_THREADS stands
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert configure_threads(None) == "1 of 2 cores, as other processes keep 1.2 busy; --threads N sets it"
        assert torch.get_num_threads() == 1
        assert configure_threads(2) == "" and torch.get_num_threads() == 2  # --threads wins
        monkeypatch.setattr(device_module, "busy_cores", lambda: 0.1)
        assert configure_threads(None) == "" and torch.get_num_threads() == 2  # never more than torch's choice
    finally:
        torch.set_num_threads(before)
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux's /proc/stat")
def test_busy_cores_sees_a_process_that_spins_now() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # started
        assert busy_cores(0.5) >= 0.7  # its core, whatever else runs (which only adds)
    finally:
        spinner.kill()
        spinner.wait()


def test_flush_denormals_makes_cpu_arithmetic_treat_subnormal_floats_as_zero() -> None:
    try:
        torch.set_flush_denormal(False)  # an earlier test's jedi-train or jedi-eval may have set it
        subnormal = torch.tensor([1e-40, 1.0])  # float32's smallest normal is about 1.2e-38
        assert (subnormal * 2)[0].item() > 0
        if not flush_denormals():
            pytest.skip("this CPU cannot flush subnormal floats")
        assert (subnormal * 2).tolist() == [0.0, 2.0]
    finally:
        torch.set_flush_denormal(True)  # as jedi-train and jedi-eval leave it
