"""Uploading a model folder to a Hugging Face Hub repo in one commit (``jedi-train push``).

``push_folder(folder, repo_id, revision, private, message)``, with the real ``huggingface_hub`` client:

- creates the model repo if it is missing (``create_repo(exist_ok=True)``; ``private`` only applies to a
  new repo) and the branch if it is not ``main`` (``create_branch(exist_ok=True)``, from the default branch);
- commits ``config.json``, ``*.safetensors`` and ``README.md`` of ``folder`` (what ``locate_model``
  downloads; nothing else, so no pickles) with one ``create_commit``: the repo never holds half a model.
  Files already on the branch stay; files with the same bytes are not sent again.

The token is the user's own, as ``huggingface_hub`` finds it: ``HF_TOKEN`` or the one ``hf auth login`` saved.
``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` are read when huggingface_hub is imported. Every failure (a bad repo
id or branch, no token or one without write access, a Hub that cannot be reached) is a ``UserError`` with
one line; huggingface_hub's own log lines and warnings (e.g. about a card without YAML metadata) are muted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, constants, get_token
from huggingface_hub.utils import RepositoryNotFoundError, RevisionNotFoundError

from jedi_play.cli.errors import UserError
from jedi_play.hub.download import ALLOW_PATTERNS, is_repo_id
from jedi_play.hub.hub_errors import http_status, is_offline, is_unreachable, one_line, quiet_hub_logs, short_reason

DEFAULT_BRANCH = "main"
LOGIN_HINT = "log in with `hf auth login` or set HF_TOKEN"


@dataclass(frozen=True)
class PushResult:
    """Where a push went: the repo, the branch, the commit it made (or the branch's head if nothing changed)."""

    repo_id: str
    revision: str
    commit: str
    commit_url: str
    files: tuple[str, ...]


def files_to_push(folder: Path) -> list[Path]:
    """The files of ``folder`` a push uploads (those matching ``ALLOW_PATTERNS``), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and any(fnmatch(p.name, pat) for pat in ALLOW_PATTERNS))


def check_target(repo_id: str, revision: str) -> None:
    """Refuse a repo id that is not ``namespace/name`` or a revision that is not a branch name (``UserError``)."""
    if not is_repo_id(repo_id):
        raise UserError(
            f"--repo-id {one_line(repo_id)!r} is not a Hub repo id: give NAMESPACE/NAME, e.g. you/asterix-jedi"
        )
    if not revision or any(c.isspace() for c in revision):
        raise UserError(f"--revision {revision!r} is not a branch name")
    if revision.startswith("refs/") or constants.REGEX_COMMIT_OID.fullmatch(revision):
        raise UserError(f"--revision {revision} is not a branch name: a push commits to a branch (e.g. main)")


def push_folder(
    folder: Path, repo_id: str, revision: str = DEFAULT_BRANCH, *, private: bool = False, message: str
) -> PushResult:
    """Upload ``folder``'s model files to ``repo_id`` at branch ``revision`` in one commit.

    Raises:
        UserError: a bad repo id or branch, a folder without ``config.json``, or a push the Hub refused or
            that could not reach it (one line each).
    """
    check_target(repo_id, revision)
    files = files_to_push(folder)
    if "config.json" not in {p.name for p in files}:
        raise UserError(f"{folder} has no config.json: it is not a model folder")
    if not message.strip():
        raise UserError("the commit message is empty")
    api = HfApi()
    try:
        with quiet_hub_logs(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"huggingface_hub(\.|$)")
            api.create_repo(repo_id, repo_type="model", private=True if private else None, exist_ok=True)
            if revision != DEFAULT_BRANCH:
                api.create_branch(repo_id, branch=revision, repo_type="model", exist_ok=True)
            operations = [CommitOperationAdd(path_in_repo=p.name, path_or_fileobj=p) for p in files]
            info = api.create_commit(repo_id, operations, commit_message=message, repo_type="model", revision=revision)
    except Exception as error:  # noqa: BLE001 - classified below; anything unexpected is re-raised
        raise _push_error(error, repo_id, revision, api.endpoint) from None
    return PushResult(repo_id, revision, str(info.oid), str(info.commit_url), tuple(p.name for p in files))


def _push_error(error: Exception, repo_id: str, revision: str, endpoint: str) -> UserError:
    """Turn what the client raised into a one-line ``UserError``; re-raise what is not about the Hub."""
    status = http_status(error)
    if status == 401:
        if _has_token():
            return UserError(f"the Hub did not accept your token (HTTP 401) to push to {repo_id}: {LOGIN_HINT}")
        return UserError(f"pushing to {repo_id} needs a Hugging Face token with write access (HTTP 401): {LOGIN_HINT}")
    if status == 403:
        return UserError(
            f"your token may not write to {repo_id} (HTTP 403): use a token with write access to "
            f"{repo_id.split('/')[0]} ({LOGIN_HINT})"
        )
    if isinstance(error, RevisionNotFoundError):
        return UserError(f"the Hub repo {repo_id} has no branch {revision}")
    if isinstance(error, RepositoryNotFoundError):
        return UserError(f"the Hub has no repo {repo_id} and did not create it (HTTP {status})")
    if is_offline(error):
        return UserError(f"cannot push to {repo_id}: offline (HF_HUB_OFFLINE is set)")
    if is_unreachable(error):
        return UserError(f"could not reach the Hub at {endpoint} to push {repo_id} ({short_reason(error)})")
    if status is not None:
        said = one_line(getattr(error, "server_message", None) or "")[:200]
        return UserError(f"the Hub refused the push to {repo_id} (HTTP {status}" + (f": {said})" if said else ")"))
    if isinstance(error, (OSError, ValueError)):  # a README the Hub's metadata check rejects, a file gone
        return UserError(f"could not push to {repo_id}: {short_reason(error)}")
    raise error


def _has_token() -> bool:
    """Whether huggingface_hub finds a token (``HF_TOKEN``, the saved login...)."""
    try:
        return get_token() is not None
    except Exception:  # noqa: BLE001 - a failing token source (OIDC) only changes the wording of the error
        return False
