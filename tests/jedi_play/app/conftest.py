"""Shared fixtures of the app tests: small model folders (``app_helpers``), headless pygame, one torch thread."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app_helpers import ASTERIX_ACTIONS, BREAKOUT_ACTIONS, write_model
from jedi_play.hub import LoadedModel, load_model_folder


@pytest.fixture(scope="session")
def asterix_folder(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("app_models") / "asterix", "Asterix", ASTERIX_ACTIONS)


@pytest.fixture(scope="session")
def no_agent_folder(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("app_models") / "asterix_no_agent", "Asterix", ASTERIX_ACTIONS, with_agent=False)


@pytest.fixture(scope="session")
def breakout_folder(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("app_models") / "breakout", "Breakout", BREAKOUT_ACTIONS)


@pytest.fixture
def loaded(asterix_folder) -> LoadedModel:
    return load_model_folder(asterix_folder, "Asterix")


@pytest.fixture(autouse=True)
def headless(monkeypatch):
    """pygame without a screen, one torch thread (a training run may share the CPU)."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
