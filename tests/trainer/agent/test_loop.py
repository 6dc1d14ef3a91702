"""The training loop's pieces that a smoke run cannot check by itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jedi_play.cli.errors import UserError
from trainer.agent.loop import TrainConfig, mean_metrics
from trainer.agent.presets import PRESETS


def test_epoch_metrics_skip_updates_that_did_not_measure() -> None:
    nan = float("nan")
    rows = [{"loss": 1.0, "denoise_loss_switched": nan}, {"loss": 3.0, "denoise_loss_switched": 2.0}, {"loss": 2.0, "denoise_loss_switched": nan}]
    assert mean_metrics(rows, "wm_") == {"wm_loss": 2.0, "wm_denoise_loss_switched": 2.0}
    assert np.isnan(mean_metrics(rows[:1], "")["denoise_loss_switched"])


def test_overrides_change_only_their_fields_of_the_preset() -> None:
    config = TrainConfig("Asterix", Path("run"), agent_lr=1e-3, agent_updates=8, world_model_updates=40)
    budget = config.budget()
    assert (budget.agent_lr, budget.agent_updates, budget.world_model_updates) == (1e-3, 8, 40)
    cpu = PRESETS["cpu"]
    assert budget.entropy_weight == cpu.entropy_weight and budget.env_steps == cpu.env_steps and budget.world_model_lr == cpu.world_model_lr
    assert TrainConfig("Asterix", Path("run")).budget() == cpu
    assert TrainConfig("Asterix", Path("run"), entropy_weight=0.0).budget().entropy_weight == 0.0


@pytest.mark.parametrize("override", [{"agent_updates": 0}, {"agent_lr": -1e-3}, {"entropy_weight": -0.1}, {"agent_lr": float("nan")}])
def test_overrides_out_of_range_are_refused(override: dict) -> None:
    with pytest.raises(UserError, match="must be"):
        TrainConfig("Asterix", Path("run"), **override).budget()


def test_a_run_resumes_only_with_its_own_overrides() -> None:
    saved = {"train_config": {"world_model": "jedi", "preset": "cpu", "agent_lr": 1e-3}}
    TrainConfig("Asterix", Path("run"), agent_lr=1e-3).check_resumes(saved)
    with pytest.raises(UserError, match="--agent-lr 0.001"):
        TrainConfig("Asterix", Path("run")).check_resumes(saved)
    with pytest.raises(UserError, match="without --agent-updates"):  # a run.json from before the option counts as its default
        TrainConfig("Asterix", Path("run"), agent_lr=1e-3, agent_updates=8).check_resumes(saved)
