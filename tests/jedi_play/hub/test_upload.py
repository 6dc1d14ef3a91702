"""``jedi-train push`` and ``jedi_play.hub.upload`` through the real huggingface_hub client against ``FakeHub``.

``HfApi`` takes its endpoint from ``huggingface_hub.constants.ENDPOINT`` when it is made and the token from
``HF_TOKEN`` (then the saved login, ``constants.HF_TOKEN_PATH``) at each call, so pushes run in this process
with those patched (``use_hub``). Downloads go through ``snapshot_download``, whose URL template is built
from ``HF_ENDPOINT`` at import, so ``locate_model`` runs in a child process with its own environment, as in
``test_download.py``.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from app_helpers import BREAKOUT_ACTIONS, tiny_world_model
from cli_helpers import assert_main_error, script
from hub_server import FakeHub
from huggingface_hub import constants

from jedi_play.hub import load_model_folder
from jedi_play.hub.upload import push_folder
from trainer.checkpoint import save_checkpoints
from trainer.cli import main
from trainer.world_model.export import export_run
from trainer.world_model.train import CHECKPOINT

REPO = "someone/breakout-tiny"
TOKEN = "hf_dummy_write_token"
MODEL_FILES = ["README.md", "config.json", "world_model.safetensors"]

CHILD = """
import json, sys
from jedi_play.hub.download import locate_model
print("RESULT " + json.dumps([str(locate_model(m, g, r).folder) for m, g, r in json.loads(sys.argv[1])]))
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny world-model run folder as ``jedi-train world-model`` leaves it (run.json, checkpoint, metrics)."""
    run = tmp_path_factory.mktemp("push") / "run_tiny"
    run.mkdir()
    model = tiny_world_model(len(BREAKOUT_ACTIONS), seed=4)
    train_config = {"data": "data/breakout", "lr": 1e-4, "batch_size": 2, "updates": 3}
    info = {"game": "Breakout", "world_model": "jedi", "action_meanings": BREAKOUT_ACTIONS}
    (run / "run.json").write_text(
        json.dumps({**info, "train_config": train_config, "model_config": model.cfg.to_dict()})
    )
    save_checkpoints(run / CHECKPOINT, {"model": model}, {}, {"step": 3, "seconds": 2.0})
    (run / "metrics.jsonl").write_text(json.dumps({"step": 3, "val_denoise_loss": 0.25}) + "\n")
    return run


@pytest.fixture(scope="module")
def exports(run_dir):
    """``export_run`` of the run, locally, in each weight format: what a push must upload byte for byte."""
    return {dtype: export_run(run_dir, run_dir.parent / dtype, dtype) for dtype in ("int8", "float16")}


@pytest.fixture
def use_hub(monkeypatch, tmp_path):
    """``use_hub(endpoint, token)``: point the client at ``endpoint`` with ``token`` as HF_TOKEN (None: no token)."""

    def use(endpoint: str, token: str | None = TOKEN, offline: bool = False) -> None:
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
        monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no_saved_login" / "token"))
        monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "agent_harnesses.json"))
        for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
            monkeypatch.delenv(name, raising=False)
        if token is not None:
            monkeypatch.setenv("HF_TOKEN", token)

    return use


def push(capsys, *argv: str) -> str:
    """``jedi-train push ARGV`` in this process: exit code 0, nothing on stderr; returns the one stdout line."""
    code = main(["push", *argv])
    out, err = capsys.readouterr()
    assert code == 0 and err == "", err
    assert len(out.splitlines()) == 1, out
    return out.strip()


def child_env(endpoint: str, hf_home: Path, **extra: str) -> dict[str, str]:
    """This environment without the user's HF_* settings, with the Hub at ``endpoint`` and the cache in ``hf_home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    return {**env, "HF_ENDPOINT": endpoint, "HF_HOME": str(hf_home), **extra}


def download_in_child(endpoint: str, calls: list, hf_home: Path) -> list[Path]:
    """``locate_model`` on each (model, game, revision) in a child process with HF_ENDPOINT=``endpoint``."""
    env = child_env(endpoint, hf_home, HF_HUB_DISABLE_PROGRESS_BARS="1")
    command = [sys.executable, "-c", CHILD, json.dumps(calls)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, result.stdout
    return [Path(folder) for folder in json.loads(lines[-1][len("RESULT ") :])]


def closed_port_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more: connections are refused


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_push_then_download_round_trip(run_dir, exports, tmp_path):
    with FakeHub() as hub:  # the console script, as a user runs it: HF_ENDPOINT and HF_TOKEN in its environment
        env = child_env(hub.endpoint, tmp_path / "hf", HF_TOKEN=TOKEN)
        command = [script("jedi-train"), "push", str(run_dir), "--repo-id", REPO]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0 and result.stderr == "", result.stderr  # no warning, no log line
        line, *more = result.stdout.splitlines()
        assert more == [], result.stdout
        sha = hub.refs[REPO]["main"]
        assert line == f"pushed {run_dir} to {REPO} at revision main: commit {sha} ({hub.endpoint}/{REPO}/commit/{sha})"
        posts = [path for method, path in hub.requests if method == "POST"]
        assert posts == [
            "/api/repos/create",
            "/api/validate-yaml",
            f"/api/models/{REPO}/preupload/main",
            f"/api/models/{REPO}/commit/main",
        ]
        # nothing else (no whoami, no repo info) but the client's once-a-process fetch of the AI-agent registry for
        # its user agent (a 404 here; it is best-effort and cached in a file only when it succeeds)
        assert [r for r in hub.requests if r != ("GET", "/api/agent-harnesses")] == [("POST", p) for p in posts]
        assert hub.created[REPO] == {"name": "breakout-tiny", "organization": "someone", "type": "model"}
        assert hub.messages[sha] == "Upload run_tiny (int8 weights) with jedi-train push"
        assert sorted(hub.commits[sha]) == [".gitattributes", *MODEL_FILES]
        assert len(hub.commits) == 2  # the new repo's first commit (.gitattributes) and the push's one commit

        (folder,) = download_in_child(hub.endpoint, [[REPO, "Breakout", None]], tmp_path / "hf")
    assert folder.name == sha and folder.is_relative_to(tmp_path / "hf")
    assert folder_bytes(folder) == folder_bytes(exports["int8"])  # byte-identical to a local export
    assert sorted(folder_bytes(folder)) == MODEL_FILES
    loaded = load_model_folder(folder, "Breakout")
    assert loaded.kind == "jedi" and loaded.config["weights_dtype"] == "int8" and loaded.agent is None


def test_pushing_again_moves_the_branch(run_dir, exports, use_hub, capsys):
    with FakeHub() as hub:
        use_hub(hub.endpoint)
        push(capsys, str(run_dir), "--repo-id", REPO, "--private")
        first = hub.refs[REPO]["main"]
        assert hub.created[REPO]["visibility"] == "private"
        line = push(capsys, str(run_dir), "--repo-id", REPO, "--weights", "float16", "--message", "half the size")
        second = hub.refs[REPO]["main"]
        assert second != first and line.endswith(f"commit {second} ({hub.endpoint}/{REPO}/commit/{second})")
        assert hub.messages[second] == "half the size"
        assert folder_bytes(exports["float16"]).items() <= hub.commits[second].items()
        assert folder_bytes(exports["int8"]).items() <= hub.commits[first].items()  # the old commit is kept
        assert hub.requests.count(("POST", "/api/repos/create")) == 2  # the second answered 409: exists

        commits = len(hub.commits)
        line = push(capsys, str(run_dir), "--repo-id", REPO, "--weights", "float16")
        assert hub.refs[REPO]["main"] == second and len(hub.commits) == commits  # the same files: no empty commit
        assert line.endswith(f"commit {second} ({hub.endpoint}/{REPO}/commit/{second})")

        push(capsys, str(run_dir), "--repo-id", REPO, "--revision", "int8-only")
        branch = hub.refs[REPO]["int8-only"]
        assert ("POST", f"/api/models/{REPO}/branch/int8-only") in hub.requests
        assert hub.refs[REPO]["main"] == second and branch not in (first, second)
        assert folder_bytes(exports["int8"]).items() <= hub.commits[branch].items()


def test_only_the_model_files_are_uploaded(exports, use_hub, tmp_path):
    folder = shutil.copytree(exports["int8"], tmp_path / "model")
    for name in ("pytorch_model.bin", "optimizer.pt", "notes.txt"):
        (folder / name).write_bytes(b"\x80\x04 pickle")
    with FakeHub() as hub:
        use_hub(hub.endpoint)
        result = push_folder(folder, REPO, message="model files only")
        assert result.files == tuple(MODEL_FILES) and result.commit == hub.refs[REPO]["main"]
        assert sorted(hub.commits[result.commit]) == [".gitattributes", *MODEL_FILES]


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--repo-id", "breakout-tiny"], ["is not a Hub repo id", "NAMESPACE/NAME"]),
        (["--repo-id", "a/b/c"], ["is not a Hub repo id"]),
        (["--repo-id", "bad name/x"], ["is not a Hub repo id"]),
        (["--repo-id", REPO, "--revision", "0" * 40], ["is not a branch name"]),
        (["--repo-id", REPO, "--message", " "], ["--message is empty"]),
    ],
)
def test_bad_arguments_are_one_line(run_dir, use_hub, capsys, argv, fragments):
    with FakeHub() as hub:
        use_hub(hub.endpoint)
        assert_main_error(main, capsys, ["push", str(run_dir), *argv], *fragments)
        assert hub.requests == []  # refused before any request


def test_bad_run_folders_are_one_line(use_hub, capsys, tmp_path):
    with FakeHub() as hub:
        use_hub(hub.endpoint)
        assert_main_error(main, capsys, ["push", str(tmp_path / "missing"), "--repo-id", REPO], "is not a folder")
        (tmp_path / "empty").mkdir()
        assert_main_error(main, capsys, ["push", str(tmp_path / "empty"), "--repo-id", REPO], "not a training run")
        assert hub.requests == []
    with pytest.raises(SystemExit) as exit_info:  # argparse: one line, exit code 2
        main(["push", str(tmp_path / "empty")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--repo-id" in err


def test_hub_unreachable_or_offline(run_dir, use_hub, capsys):
    endpoint = closed_port_endpoint()
    use_hub(endpoint)
    argv = ["push", str(run_dir), "--repo-id", REPO]
    assert_main_error(main, capsys, argv, f"could not reach the Hub at {endpoint} to push {REPO}", "Connection refused")
    use_hub(endpoint, offline=True)
    assert_main_error(main, capsys, argv, f"cannot push to {REPO}: offline (HF_HUB_OFFLINE is set)")


def test_auth_failures_say_how_to_log_in(run_dir, use_hub, capsys):
    argv = ["push", str(run_dir), "--repo-id", REPO]
    with FakeHub() as hub:
        hub.revoked_tokens.add("hf_revoked")
        hub.read_only_tokens.add("hf_read")
        use_hub(hub.endpoint, token=None)
        assert_main_error(main, capsys, argv, "needs a Hugging Face token", "HTTP 401", "`hf auth login`", "HF_TOKEN")
        use_hub(hub.endpoint, token="hf_revoked")
        assert_main_error(main, capsys, argv, "did not accept your token (HTTP 401)", "`hf auth login`", "HF_TOKEN")
        use_hub(hub.endpoint, token="hf_read")
        assert_main_error(main, capsys, argv, f"may not write to {REPO} (HTTP 403)", "write access to someone")
        assert REPO not in hub.refs  # nothing was created

        use_hub(hub.endpoint)
        push(capsys, *argv[1:])
        head = hub.refs[REPO]["main"]
        use_hub(hub.endpoint, token="hf_revoked")  # the repo exists: create_repo passes, the preupload is refused
        assert_main_error(main, capsys, argv, "did not accept your token (HTTP 401)")
        assert hub.refs[REPO]["main"] == head
