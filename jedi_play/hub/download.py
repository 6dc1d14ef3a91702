"""Finding the model folder the app loads: a local folder, a Hub repo, or the model bundled in ``assets/``.

``locate_model(model, game, revision)`` follows ``jedi-play --model``:

- an existing directory is used as it is (a local model folder);
- a Hub repo id (``namespace/name``) is downloaded into the Hugging Face cache with ``snapshot_download``,
  fetching only ``config.json``, ``*.safetensors`` and ``README.md`` (nothing that could be unpickled);
- no ``--model``: the project's default repo for the game (``DEFAULT_REPO``), and when that fails because
  we are offline, cannot reach the Hub, or the repo or revision does not exist, the bundled model in
  ``BUNDLED_DIR/<lowercase game>/``.

Every failure is a ``UserError`` with one line naming the repo and the reason. ``huggingface_hub`` reads
``HF_ENDPOINT``, ``HF_HOME`` / ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` when it is imported; the
environment variable ``JEDI_PLAY_ASSETS`` (read when this module is imported) replaces ``BUNDLED_DIR``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from huggingface_hub import constants, snapshot_download
from huggingface_hub.utils import (
    GatedRepoError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    validate_repo_id,
)

from jedi_play.cli.errors import UserError
from jedi_play.env.games import get_game
from jedi_play.hub.hub_errors import is_offline, one_line, quiet_hub_logs, short_reason, transport_errors

DEFAULT_REPO = "jedi-play/{game}-jedi"
BUNDLED_DIR = Path(os.environ.get("JEDI_PLAY_ASSETS") or Path(__file__).resolve().parents[2] / "assets")
ALLOW_PATTERNS = ["config.json", "*.safetensors", "README.md"]


@dataclass(frozen=True)
class ModelSource:
    """Where the model folder is, where it came from, and the one line the app prints about it."""

    folder: Path
    origin: Literal["local", "hub", "bundled"]
    description: str


class _HubFailure(Exception):
    """A download that failed: ``reason`` explains a fallback, ``message`` is the error without one."""

    def __init__(self, message: str, reason: str, fallback: bool) -> None:
        super().__init__(message)
        self.message, self.reason, self.fallback = message, reason, fallback


def default_repo_id(game: str) -> str:
    """The Hub repo the project publishes ``game``'s model under, e.g. ``jedi-play/asterix-jedi``."""
    return DEFAULT_REPO.format(game=get_game(game).name.lower())


def is_repo_id(text: str) -> bool:
    """Whether ``text`` is a ``namespace/name`` repo id as ``huggingface_hub`` validates it."""
    if text.count("/") != 1:
        return False
    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def locate_model(model: str | None, game: str, revision: str | None = None) -> ModelSource:
    """Find the model folder for ``--model`` / ``--revision``; see the module docstring for the order.

    Raises:
        UserError: an unknown game, a revision with a local folder, a ``model`` that is neither a folder nor
            a repo id, a failed download, or (without ``model``) no default model and nothing bundled.
    """
    game_name = get_game(game).name
    if model is None:
        return _default_model(game_name, revision)
    if not model.strip():
        raise UserError("--model is empty: give a model folder or a Hub repo id")
    path = Path(model).expanduser()
    if path.is_dir():
        if revision is not None:
            raise UserError(f"--revision applies to Hub repos, not to the local folder {model}")
        return ModelSource(path, "local", f"loaded the local folder {model}")
    if path.exists():
        raise UserError(f"{model} is a file, not a model folder")
    if not is_repo_id(model):
        raise UserError(f"no folder {model} and not a Hub repo id (namespace/name)")
    try:
        return _download(model, revision)
    except _HubFailure as failure:
        raise UserError(failure.message) from None


def _default_model(game: str, revision: str | None) -> ModelSource:
    """The default repo's model, or the bundled one when the Hub has none or cannot be used."""
    repo_id = default_repo_id(game)
    try:
        return _download(repo_id, revision)
    except _HubFailure as failure:
        if not failure.fallback:
            raise UserError(failure.message) from None
        reason = failure.reason
    bundled = BUNDLED_DIR / game.lower()
    if not (bundled / "config.json").is_file():
        raise UserError(
            f"no model for {game}: the default Hub repo {repo_id} cannot be used ({reason}) and nothing is bundled "
            f"in {_show(bundled)}; pass --model with a model folder or a Hub repo id"
        )
    return ModelSource(bundled, "bundled", f"loaded the bundled model {_show(bundled)} ({reason})")


def _download(repo_id: str, revision: str | None) -> ModelSource:
    """Download (or find in the cache) ``repo_id`` at ``revision``; raise ``_HubFailure`` saying why not."""
    try:
        with quiet_hub_logs():
            folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=ALLOW_PATTERNS))
    except Exception as error:  # noqa: BLE001 - classified below; anything unexpected is re-raised
        raise _classify(error, repo_id, revision) from None
    if not (folder / "config.json").is_file():
        at = f" at revision {one_line(revision)}" if revision else ""
        raise _HubFailure(
            f"the Hub repo {repo_id}{at} has no config.json: it is not a JEDI Play model",
            f"the Hub repo {repo_id}{at} has no config.json",
            fallback=True,
        )
    commit = folder.name[:7]
    at = f"{revision} ({commit})" if revision and not folder.name.startswith(revision) else commit
    where = f"from the Hub (cached in {folder})"
    if is_offline():
        where = "from the Hub cache (offline: HF_HUB_OFFLINE is set)"
    return ModelSource(folder, "hub", f"loaded {repo_id} at revision {at} {where}")


def _classify(error: Exception, repo_id: str, revision: str | None) -> _HubFailure:
    """Turn what ``snapshot_download`` raised into a one-line ``_HubFailure``; re-raise what is not about the Hub."""
    cache = constants.HF_HUB_CACHE
    if isinstance(error, RevisionNotFoundError):
        text = f"the Hub repo {repo_id} has no revision {one_line(str(revision or 'main'))}"
        return _HubFailure(text, text, fallback=True)
    if isinstance(error, GatedRepoError):
        text = f"the Hub repo {repo_id} is gated: ask for access on its page and log in with `hf auth login`"
        return _HubFailure(text, text, fallback=False)
    if isinstance(error, RepositoryNotFoundError):
        return _HubFailure(
            f"the Hub has no repo {repo_id} (or it is private), and there is no local folder of that name",
            f"the Hub has no repo {repo_id}",
            fallback=True,
        )
    if is_offline(error):
        return _HubFailure(
            f"cannot download {repo_id}: offline (HF_HUB_OFFLINE is set) and it is not in the cache {cache}",
            "offline: HF_HUB_OFFLINE is set",
            fallback=True,
        )
    if isinstance(error, (LocalEntryNotFoundError, ConnectionError, *transport_errors())):
        short = short_reason(error)
        return _HubFailure(
            f"could not reach the Hub for {repo_id} ({short}) and it is not in the cache {cache}",
            f"could not reach the Hub: {short}",
            fallback=True,
        )
    if isinstance(error, (OSError, ValueError)):  # other HTTP errors, a damaged cache, a full disk
        return _HubFailure(f"could not download {repo_id} from the Hub: {short_reason(error)}", "", fallback=False)
    raise error


def _show(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (``assets/asterix``), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
