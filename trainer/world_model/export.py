"""``jedi-train export RUN_DIR --to DIR``: a run's world model as a model folder, with a model card of
the figures measured on it (held-out losses, and fidelity when ``RUN_DIR/fidelity.json`` exists)."""

from __future__ import annotations

import json
from pathlib import Path

from jedi_play.cli.errors import UserError
from jedi_play.hub.model_folder import save_model_folder
from jedi_play.models.factory import build_world_model
from trainer.checkpoint import load_checkpoint
from trainer.world_model.train import CHECKPOINT

FIDELITY_FILE = "fidelity.json"


def read_run(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "run.json").read_text())
    except FileNotFoundError:
        raise UserError(f"{run_dir} is not a training run (no run.json)") from None
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {run_dir / 'run.json'}: {e}") from None


def last_validation(run_dir: Path) -> dict[str, float]:
    """The newest held-out metrics in ``metrics.jsonl`` (empty when there are none)."""
    found: dict[str, float] = {}
    path = run_dir / "metrics.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill
            if any(k.startswith("val_") for k in row):
                found = row
    return found


def model_card(run: dict, meta: dict, val: dict, fidelity: dict | None) -> str:
    tc = run["train_config"]
    lines = [
        f"# {run['world_model'].upper()} world model for {run['game']}",
        "",
        f"A {run['world_model']} world model trained with JEDI Play on {run['game']} episodes.",
        "",
        "## Training",
        "",
        f"- updates: {meta.get('step')} at batch {tc.get('batch_size')}, learning rate {tc.get('lr')}",
        f"- command: `jedi-train world-model --game {run['game']} --world-model {run['world_model']} --data {tc.get('data')} "
        f"--out RUN_DIR --lr {tc.get('lr')} --batch-size {tc.get('batch_size')}"
        + (f" --minutes {tc['minutes']}" if tc.get("minutes") else "")
        + (f" --updates {tc['updates']}" if tc.get("updates") else "")
        + "`",
        "",
        "## Held-out losses",
        "",
        "| metric | value |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v:.4f} |" for k, v in val.items() if k.startswith("val_")]
    if fidelity:
        lines += ["", "## Fidelity (`jedi-eval fidelity`)", "", "| horizon | PSNR (dB) | copy-last-frame (dB) |", "|---:|---:|---:|"]
        for h in sorted(fidelity["psnr"], key=int):
            copy = fidelity["psnr_copy_last"].get(h)
            psnr = fidelity["psnr"][h]
            lines.append(f"| {h} | {psnr:.2f} | {copy:.2f} |" if copy is not None else f"| {h} | {psnr:.2f} | |")
        lines.append(f"\nMeasured on {fidelity.get('episodes')} held-out episodes.")
    return "\n".join(lines) + "\n"


def export_run(run_dir: Path, to: Path) -> Path:
    run = read_run(run_dir)
    model = build_world_model(run["world_model"], run["model_config"])
    ckpt = run_dir / CHECKPOINT
    if not ckpt.exists():
        raise UserError(f"{run_dir} has no checkpoint yet")
    meta = load_checkpoint(ckpt, model)
    fidelity = None
    if (run_dir / FIDELITY_FILE).exists():
        fidelity = json.loads((run_dir / FIDELITY_FILE).read_text())
    card = model_card(run, meta, last_validation(run_dir), fidelity)
    save_model_folder(to, model, run["world_model"], run["game"], run["action_meanings"], card, {"training": {"updates": meta.get("step")}})
    return to
