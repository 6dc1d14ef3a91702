"""The training loop's pieces that a smoke run cannot check by itself."""

from __future__ import annotations

import numpy as np

from trainer.agent.loop import mean_metrics


def test_epoch_metrics_skip_updates_that_did_not_measure() -> None:
    nan = float("nan")
    rows = [{"loss": 1.0, "denoise_loss_switched": nan}, {"loss": 3.0, "denoise_loss_switched": 2.0}, {"loss": 2.0, "denoise_loss_switched": nan}]
    assert mean_metrics(rows, "wm_") == {"wm_loss": 2.0, "wm_denoise_loss_switched": 2.0}
    assert np.isnan(mean_metrics(rows[:1], "")["denoise_loss_switched"])
