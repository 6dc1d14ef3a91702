"""What a whole-agent run logs: rows of mean metrics to ``metrics.jsonl`` and to TensorBoard event files.

A row covers one epoch, or one block of the world model's updates before the first epoch, or one block of
the final agent's updates after the last. A resumed run first drops the rows logged after its checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType

import numpy as np
from tqdm import tqdm

from jedi_play.cli.errors import UserError
from trainer.world_model.train import drop_metrics_after

METRICS_FILE = "metrics.jsonl"
SHOWN_METRICS = ("wm_loss", "imagined_return", "eval_mean_score")  # on the progress bar


def tensorboard_writer(log_dir: Path, purge_step: int | None):  # -> torch.utils.tensorboard.SummaryWriter
    """TensorBoard event files in ``log_dir`` (a resumed run first drops the events logged after its checkpoint)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError("jedi-train writes TensorBoard logs and needs the tensorboard package: pip install 'jedi-play[train]'") from None
    return SummaryWriter(str(log_dir), purge_step=purge_step)


def mean_metrics(rows: list[dict[str, float]], prefix: str) -> dict[str, float]:
    """Each metric's mean over the updates that measured it: a NaN means "not measured on this update"."""
    means = {}
    for key in dict.fromkeys(k for row in rows for k in row):
        values = [row[key] for row in rows if key in row and not np.isnan(row[key])]
        means[f"{prefix}{key}"] = float(np.mean(values)) if values else float("nan")
    return means


class RunLog:
    """A run folder's ``metrics.jsonl`` and ``tb/`` event files, and the progress bar that shows each row."""

    def __init__(self, run_dir: Path, bar: tqdm, *, resume_at: dict[str, int] | None, env_steps: int) -> None:
        """Open the logs; a resumed run passes its checkpoint's counters as ``resume_at`` (e.g.
        ``{"world_model_updates": 480}``): rows beyond any of them, and events beyond ``env_steps``, go."""
        path = run_dir / METRICS_FILE
        for key, value in (resume_at or {}).items():
            drop_metrics_after(path, value, key=key)
        self.bar = bar
        self.writer = tensorboard_writer(run_dir / "tb", purge_step=env_steps if resume_at is not None else None)
        self.file = open(path, "a")

    def write(self, row: dict[str, float], step: int, tag: str = "") -> None:
        """A row to ``metrics.jsonl`` and TensorBoard (at ``step``; its tags prefixed ``tag``)."""
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()
        for k, v in row.items():
            if k not in ("epoch", "env_steps"):
                self.writer.add_scalar(tag + k, v, step)
        self.bar.set_postfix({k: f"{row[k]:.2f}" for k in SHOWN_METRICS if k in row})

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        self.file.close()
        self.writer.close()
