"""A whole-agent run's log: mean metrics per row, and the rows a resumed run drops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from trainer.agent.run_log import METRICS_FILE, RunLog, mean_metrics


def test_epoch_metrics_skip_updates_that_did_not_measure() -> None:
    nan = float("nan")
    rows = [{"loss": 1.0, "denoise_loss_switched": nan}, {"loss": 3.0, "denoise_loss_switched": 2.0}, {"loss": 2.0, "denoise_loss_switched": nan}]
    assert mean_metrics(rows, "wm_") == {"wm_loss": 2.0, "wm_denoise_loss_switched": 2.0}
    assert np.isnan(mean_metrics(rows[:1], "")["denoise_loss_switched"])


def test_a_resumed_run_drops_the_rows_logged_after_its_checkpoint(tmp_path: Path) -> None:
    """Rows past the checkpoint's world-model updates (epochs) or final-agent updates (the final phase) go;
    the rest, and a row without the final agent's counter, stay; new rows follow them."""
    rows = [
        {"epoch": 1, "world_model_updates": 40},
        {"epoch": 2, "world_model_updates": 80},
        {"epoch": 2, "world_model_updates": 80, "final_agent_updates": 100},
        {"epoch": 2, "world_model_updates": 80, "final_agent_updates": 200},
        {"epoch": 3, "world_model_updates": 120},
    ]
    with tqdm(disable=True) as bar, RunLog(tmp_path, bar, resume_at=None, env_steps=0) as log:
        for step, row in enumerate(rows):
            log.write(row, step=step)
    with tqdm(disable=True) as bar, RunLog(tmp_path, bar, resume_at={"world_model_updates": 80, "final_agent_updates": 100}, env_steps=2) as log:
        log.write({"epoch": 2, "world_model_updates": 80, "final_agent_updates": 200, "loss": 0.5}, step=200, tag="final_agent/")
    kept = [json.loads(line) for line in (tmp_path / METRICS_FILE).read_text().splitlines()]
    assert kept == [*rows[:3], {"epoch": 2, "world_model_updates": 80, "final_agent_updates": 200, "loss": 0.5}]
    assert list((tmp_path / "tb").iterdir()), "no TensorBoard events were written"
