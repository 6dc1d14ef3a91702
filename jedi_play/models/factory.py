"""Build either world model from its name and config dictionary (as stored in ``config.json``)."""

from __future__ import annotations

from typing import Any

from jedi_play.models.diamond import DIAMONDConfig, DIAMONDWorldModel
from jedi_play.models.jedi import JEDIConfig, JEDIWorldModel
from jedi_play.models.world_model import WorldModel

WORLD_MODELS = ("jedi", "diamond")


def build_world_model(kind: str, config: dict[str, Any]) -> WorldModel:
    """``kind`` is ``"jedi"`` or ``"diamond"``; ``config`` the dataclass fields of its config."""
    if kind == "jedi":
        return JEDIWorldModel(JEDIConfig.from_dict(config))
    if kind == "diamond":
        return DIAMONDWorldModel(DIAMONDConfig.from_dict(config))
    raise ValueError(f"unknown world model {kind!r}; expected one of {WORLD_MODELS}")

