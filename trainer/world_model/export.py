"""``jedi-train export RUN_DIR --to DIR``: a run's world model (and agent, for whole-agent runs) as a
model folder, with a model card of the figures measured on it: held-out losses or the training
evaluations, fidelity when ``RUN_DIR/fidelity.json`` exists, the agent's score when ``RUN_DIR/eval.json``
(written by ``jedi-eval --json``) exists. A run that ended with a final agent (``final_agent_updates``)
exports that agent, or with ``run_agent=True`` the run's agent as it was before the final phase."""

from __future__ import annotations

import json
from pathlib import Path

from jedi_play.cli.errors import UserError
from jedi_play.hub.model_folder import save_model_folder
from jedi_play.hub.weight_codec import WeightsDType
from jedi_play.models.actor_critic import ActorCritic, ActorCriticConfig
from jedi_play.models.diamond import DIAMONDConfig
from jedi_play.models.factory import build_world_model
from jedi_play.models.jedi import JEDIConfig
from trainer.agent.config import run_defining_flags
from trainer.agent.loop import Counters
from trainer.checkpoint import RUN_AGENT_FILE, WEIGHTS_FILE, load_checkpoints
from trainer.world_model.train import CHECKPOINT

FIDELITY_FILE = "fidelity.json"
EVAL_FILE = "eval.json"


def read_run(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "run.json").read_text())
    except FileNotFoundError:
        raise UserError(f"{run_dir} is not a training run (no run.json)") from None
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {run_dir / 'run.json'}: {e}") from None


def settings_not_in_the_paper(run: dict) -> dict:
    """The run's world-model config fields whose values differ from the paper's (the config's defaults)."""
    saved = run.get("model_config", {})
    config_class = {"jedi": JEDIConfig, "diamond": DIAMONDConfig}[run["world_model"]]
    paper = json.loads(json.dumps(config_class(num_actions=saved.get("num_actions", 1)).to_dict()))  # tuples as lists, like run.json
    return {k: v for k, v in saved.items() if k in paper and paper[k] != v}


def _settings_lines(run: dict) -> list[str]:
    changed = settings_not_in_the_paper(run)
    return ["- world-model settings that differ from the paper's: " + ", ".join(f"{k} {v}" for k, v in changed.items())] if changed else []


def _training_lines(run: dict, meta: dict, val: dict) -> list[str]:
    tc = run["train_config"]
    if run.get("kind") == "agent":
        counters, preset = Counters.from_saved(meta.get("counters", {})), run["preset"]
        lines = [
            "## Training",
            "",
            f"- real steps: {meta.get('env_steps')} (the first {preset['initial_random_steps']} with the random policy), "
            f"{counters.epoch} epochs",
            f"- updates: {counters.world_model_updates} world-model, {counters.agent_updates} actor-critic",
            f"- training time: {counters.seconds / 3600:.2f} h",
            f"- command: `jedi-train --game {run['game']} --world-model {run['world_model']} --preset {tc.get('preset')} --seed {tc.get('seed')} "
            + "".join(flag + " " for flag in run_defining_flags(tc))
            + "--out RUN_DIR`",
            f"- preset `{tc.get('preset')}` as the run recorded it: {preset['env_steps']} real steps, "
            f"{preset['world_model_updates']} world-model and {preset['agent_updates']} actor-critic updates per epoch, "
            f"learning rates {preset['world_model_lr']:g} (world model) and {preset['agent_lr']:g} (agent), "
            f"entropy weight {preset.get('entropy_weight', 0.001):g}"  # runs from before the preset recorded it used 0.001
            + (", advantages normalised per batch" if preset.get("normalize_advantages") else "")
            + (f"; the actor-critic from epoch {preset['agent_delay_epochs'] + 1}" if preset.get("agent_delay_epochs") else ""),
        ]
        if counters.final_agent_started:
            run_own = preset.get("final_agent") == "run"
            who = "the run's own actor-critic took {} more updates" if run_own else "a fresh actor-critic took {} updates"
            kept = "the run's agent before them" if run_own else "the run's own agent, kept beside it"
            lines.append(
                f"- after the last epoch {who.format(counters.final_agent_updates)} in the final world model's frozen dream; "
                f"exported here: {f'{kept} (`--run-agent`)' if meta.get('run_agent') else 'this agent'}"
            )
        lines += _settings_lines(run)
        if "eval_mean_score" in val:
            lines.append(f"- last evaluation during training: mean score {val['eval_mean_score']:.1f} over {int(val['eval_episodes'])} episode(s)")
        return lines
    lines = [
        "## Training",
        "",
        f"- updates: {meta.get('step')} at batch {tc.get('batch_size')}, learning rate {tc.get('lr')}",
        f"- training time: {meta.get('seconds', 0.0) / 3600:.2f} h (all sessions of the run; `--resume` continues one)",
        f"- command of the last session: `jedi-train world-model --game {run['game']} --world-model {run['world_model']} --data {tc.get('data')} "
        f"--out RUN_DIR --lr {tc.get('lr')} --batch-size {tc.get('batch_size')}"
        + (f" --minutes {tc['minutes']}" if tc.get("minutes") else "")
        + (f" --updates {tc['updates']}" if tc.get("updates") else "")
        + "`",
        *_settings_lines(run),
        "",
        "## Held-out losses",
        "",
        "| metric | value |",
        "|---|---:|",
    ]
    return lines + [f"| {k} | {v:.4f} |" for k, v in val.items() if k.startswith("val_")]


def model_card(run: dict, meta: dict, val: dict, fidelity: dict | None, evaluation: dict | None = None) -> str:
    what = "agent and world model" if run.get("kind") == "agent" else "world model"
    lines = [f"# {run['world_model'].upper()} {what} for {run['game']}", "", f"A {run['world_model']} {what} trained with JEDI Play on {run['game']}.", ""]
    lines += _training_lines(run, meta, val)
    if evaluation:
        lines += [
            "",
            "## Score (`jedi-eval`)",
            "",
            f"Mean score {evaluation['mean_score']:.1f} (std {evaluation['std_score']:.1f}) over {evaluation['episodes']} evaluation "
            f"episodes; human-normalised score {evaluation['hns']:.3f}.",
        ]
    if fidelity:
        lines += ["", "## Fidelity (`jedi-eval fidelity`)", "", "| horizon | PSNR (dB) | copy-last-frame (dB) |", "|---:|---:|---:|"]
        for h in sorted(fidelity["psnr"], key=int):
            copy = fidelity["psnr_copy_last"].get(h)
            psnr = fidelity["psnr"][h]
            lines.append(f"| {h} | {psnr:.2f} | {copy:.2f} |" if copy is not None else f"| {h} | {psnr:.2f} | |")
        lines.append(f"\nMeasured on {fidelity.get('episodes')} held-out episodes.")
    return "\n".join(lines) + "\n"


def last_row_with(run_dir: Path, prefix: str, without: str | None = None) -> dict[str, float]:
    """The newest row of ``metrics.jsonl`` that has a key starting with ``prefix`` and not the key ``without``
    (empty when none)."""
    found: dict[str, float] = {}
    path = run_dir / "metrics.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill
            if any(k.startswith(prefix) for k in row) and without not in row:
                found = row
    return found


def _optional_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def export_run(run_dir: Path, to: Path, weights_dtype: WeightsDType = "float32", run_agent: bool = False) -> Path:
    """Write ``run_dir``'s model folder to ``to``; ``run_agent``: a whole-agent run's agent as it was before its
    final agent's updates (``final_agent_updates``) instead of the final agent."""
    run = read_run(run_dir)
    model = build_world_model(run["world_model"], run["model_config"])
    agent = ActorCritic(ActorCriticConfig.from_dict(run["agent_config"])) if run.get("kind") == "agent" else None
    ckpt = run_dir / CHECKPOINT
    if not ckpt.exists() and agent is None and (run_dir / WEIGHTS_FILE).exists():
        ckpt = run_dir / WEIGHTS_FILE  # a world-model run kept as its bf16 weights alone
    if not ckpt.exists():
        raise UserError(f"{run_dir} has no checkpoint yet")
    meta = load_checkpoints(ckpt, {"model": model, **({"agent": agent} if agent is not None else {})})
    if run_agent:
        if agent is None or not (run_dir / RUN_AGENT_FILE).exists():
            raise UserError(f"{run_dir} holds no run's agent beside a final one (only runs with a final agent, final_agent_updates, that reached it do)")
        load_checkpoints(run_dir / RUN_AGENT_FILE, {"agent": agent})
        meta["run_agent"] = True
    val = last_row_with(run_dir, "eval_" if agent is not None else "val_", without="final_agent_updates" if run_agent else None)
    card = model_card(run, meta, val, _optional_json(run_dir / FIDELITY_FILE), _optional_json(run_dir / EVAL_FILE))
    training = {"updates": meta.get("step")} if agent is None else {"env_steps": meta.get("env_steps"), **meta.get("counters", {})}
    save_model_folder(to, model, run["world_model"], run["game"], run["action_meanings"], card, {"training": training}, agent=agent, weights_dtype=weights_dtype)
    return to
