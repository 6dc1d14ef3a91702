"""The models bundled in ``assets/``: each loads strictly, is for its game, and stays within 20 MB."""

from __future__ import annotations

from pathlib import Path

import pytest

from jedi_play.hub import load_model_folder
from jedi_play.hub.download import BUNDLED_DIR

MAX_BYTES = 20 * 1024 * 1024
BUNDLED = sorted(p for p in BUNDLED_DIR.iterdir() if p.is_dir()) if BUNDLED_DIR.is_dir() else []


def test_asterix_is_bundled() -> None:
    assert (BUNDLED_DIR / "asterix" / "config.json").is_file()


@pytest.mark.parametrize("folder", BUNDLED, ids=lambda p: p.name)
def test_bundled_model_loads_for_its_game_within_the_size_limit(folder: Path) -> None:
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    assert size <= MAX_BYTES, f"{folder.name}: {size / 2**20:.1f} MB"
    loaded = load_model_folder(folder, folder.name)  # strict: every tensor present, shapes as configured
    assert loaded.game.lower() == folder.name
    assert loaded.agent is not None  # a whole agent: the app's agent, compare and versus modes need it
    card = (folder / "README.md").read_text()
    assert "## Fidelity" in card and "## Agent score" in card
