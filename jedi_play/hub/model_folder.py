"""Model folders: ``config.json`` + ``*.safetensors`` weights + a ``README.md`` model card.

``config.json`` holds everything needed to rebuild the networks (architecture sizes, game, action
meanings, frame size, conditioning length, sampler settings, format version). Loading is strict: the
game and action set must match the requested game, and every tensor must be present with its shape.
Only JSON and safetensors are read; nothing is unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from jedi_play.cli.errors import UserError
from jedi_play.data.atomic import atomic_write_bytes
from jedi_play.env.games import get_game
from jedi_play.hub.weight_codec import WeightsDType, decode_weights, encode_weights
from jedi_play.models.actor_critic import ActorCritic, ActorCriticConfig
from jedi_play.models.factory import WORLD_MODELS, build_world_model
from jedi_play.models.world_model import WorldModel

FORMAT = "jedi-play-model"
FORMAT_VERSION = 1
WORLD_MODEL_FILE = "world_model.safetensors"
AGENT_FILE = "agent.safetensors"


@dataclass
class LoadedModel:
    """A model folder read back: its world model (in eval mode) and what ``config.json`` says."""

    game: str
    action_meanings: list[str]
    kind: str  # "jedi" or "diamond"
    world_model: WorldModel
    config: dict[str, Any]
    path: Path
    agent: ActorCritic | None = None  # in eval mode; None for a world model trained without an agent


def save_model_folder(
    folder: Path,
    world_model: WorldModel,
    kind: str,
    game: str,
    action_meanings: list[str],
    card: str,
    extra: dict | None = None,
    agent: ActorCritic | None = None,
    weights_dtype: WeightsDType = "float32",
) -> None:
    """Write a model folder: config.json, the world model's (and agent's) weights and the model card, each atomically.

    ``weights_dtype``: how the weights are stored (``jedi_play.hub.weight_codec``); they load as float32.
    """
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "game": game,
        "action_meanings": list(action_meanings),
        "frame_size": 64,
        "num_cond_steps": world_model.num_cond_steps,
        "world_model": {"kind": kind, "config": world_model.cfg.to_dict(), "file": WORLD_MODEL_FILE},
        "weights_dtype": weights_dtype,
        **(extra or {}),
    }
    folder.mkdir(parents=True, exist_ok=True)
    _write_weights(folder / WORLD_MODEL_FILE, world_model, weights_dtype)
    if agent is not None:
        config["agent"] = {"config": agent.cfg.to_dict(), "file": AGENT_FILE}
        _write_weights(folder / AGENT_FILE, agent, weights_dtype)
    atomic_write_bytes(folder / "config.json", (json.dumps(config, indent=2) + "\n").encode())
    atomic_write_bytes(folder / "README.md", card.encode())


def _write_weights(path: Path, module: torch.nn.Module, dtype: WeightsDType) -> None:
    tensors = encode_weights(module.state_dict(), dtype)
    atomic_write_bytes(path, save_safetensors(tensors, metadata={"format": FORMAT}))


def _read_weights(folder: Path, file: str, module: torch.nn.Module) -> None:
    """Load ``folder/file`` into ``module`` strictly, or raise ``UserError`` saying what is wrong."""
    weights = folder / Path(file).name
    try:
        tensors = decode_weights(load_safetensors(weights.read_bytes()))
    except FileNotFoundError:
        raise UserError(f"{folder} is missing its weights file {weights.name}") from None
    except (OSError, SafetensorError, ValueError) as e:
        raise UserError(f"weights file {weights} is damaged ({e})") from None
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        detail = " ".join(str(e).split())
        raise UserError(f"weights in {weights} do not fit the model: {detail[:300]}") from None


def read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not folder.is_dir():
        raise UserError(f"model folder {folder} does not exist")
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{folder} is not a model folder: config.json is missing") from None
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path}: {e}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise UserError(f"{path} is not a JEDI Play model config")
    if config.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path} has format version {config.get('format_version')}; this version reads {FORMAT_VERSION}")
    return config


def load_model_folder(folder: str | Path, game: str | None = None, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model folder strictly; ``game`` (if given) must be the folder's game.

    Raises:
        UserError: missing or unreadable config, another game, a damaged weights file, a missing or
            misshapen tensor.
    """
    folder = Path(folder)
    config = read_config(folder)
    try:
        model_game = get_game(str(config["game"])).name
        wm = config["world_model"]
        kind, wm_config, wm_file = wm["kind"], wm["config"], wm["file"]
        action_meanings = [str(a) for a in config["action_meanings"]]
    except (KeyError, TypeError) as e:
        raise UserError(f"{folder / 'config.json'} lacks a field: {e}") from None
    if game is not None and get_game(game).name != model_game:
        raise UserError(f"the model in {folder} is for {model_game}, not {get_game(game).name}")
    if len(action_meanings) != get_game(model_game).num_actions:
        raise UserError(f"{folder / 'config.json'} lists {len(action_meanings)} actions; {model_game} has {get_game(model_game).num_actions}")
    if kind not in WORLD_MODELS:
        raise UserError(f"{folder / 'config.json'} names an unknown world model {kind!r}")
    try:
        model = build_world_model(kind, wm_config)
    except (TypeError, ValueError) as e:
        raise UserError(f"{folder / 'config.json'} does not describe a valid {kind} model ({e})") from None
    if model.cfg.num_actions != len(action_meanings):
        raise UserError(f"{folder / 'config.json'}: the world model has {model.cfg.num_actions} actions, the game {len(action_meanings)}")
    _read_weights(folder, wm_file, model)
    agent = None
    if "agent" in config:
        try:
            agent = ActorCritic(ActorCriticConfig.from_dict(config["agent"]["config"]))
            agent_file = config["agent"]["file"]
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"{folder / 'config.json'} does not describe a valid agent ({e})") from None
        if agent.cfg.num_actions != len(action_meanings):
            raise UserError(f"{folder / 'config.json'}: the agent has {agent.cfg.num_actions} actions, the game {len(action_meanings)}")
        _read_weights(folder, agent_file, agent)
        agent = agent.to(device).eval()
    return LoadedModel(model_game, action_meanings, kind, model.to(device).eval(), config, folder, agent)
