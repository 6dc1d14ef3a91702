"""Locating models: local folders, Hub repos through the real huggingface_hub client, and the bundled fallback.

The Hub is a local HTTP server (``hub_server.FakeHub``) that answers the way the Hub does. ``HF_ENDPOINT``,
``HF_HOME`` and ``HF_HUB_OFFLINE`` are read when huggingface_hub is imported, so ``locate_model`` runs in
a child process with its own environment; each child runs a list of calls and prints their results as JSON.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from app_helpers import tiny_world_model
from hub_server import FakeHub

from jedi_play.cli.errors import UserError
from jedi_play.hub import load_model_folder, save_model_folder
from jedi_play.hub.download import default_repo_id, is_repo_id, locate_model
from jedi_play.models.jedi import JEDIWorldModel

REPO = "someone/breakout-tiny"  # main: weights v2; tag v1: weights v1 and a pickle file never to be fetched
BREAKOUT_ACTIONS = ["NOOP", "FIRE", "RIGHT", "LEFT"]
PONG_ACTIONS = ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]
WEIGHTS = "world_model.safetensors"

CHILD = """
import json, sys
from jedi_play.cli.errors import UserError
from jedi_play.hub.download import locate_model
results = []
for model, game, revision in json.loads(sys.argv[1]):
    try:
        source = locate_model(model, game, revision)
        results.append({"folder": str(source.folder), "origin": source.origin, "description": source.description})
    except UserError as e:
        results.append({"error": str(e)})
print("RESULT " + json.dumps(results))
"""


def tiny_model(num_actions: int, seed: int) -> JEDIWorldModel:
    return tiny_world_model(num_actions, seed)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Two Breakout model folders with different weights, and an assets/ folder bundling Breakout and Pong."""
    root = tmp_path_factory.mktemp("models")
    save_model_folder(root / "v1", tiny_model(4, 1), "jedi", "Breakout", BREAKOUT_ACTIONS, "# v1\n")
    save_model_folder(root / "v2", tiny_model(4, 2), "jedi", "Breakout", BREAKOUT_ACTIONS, "# v2\n")
    assert (root / "v1" / WEIGHTS).read_bytes() != (root / "v2" / WEIGHTS).read_bytes()
    shutil.copytree(root / "v1", root / "assets" / "breakout")
    save_model_folder(root / "assets" / "pong", tiny_model(6, 3), "jedi", "Pong", PONG_ACTIONS, "# bundled\n")
    return root


@pytest.fixture(scope="module")
def hub(folders):
    with FakeHub() as fake:
        never = {"pytorch_model.bin": b"\x80\x04pickle", "notes.txt": b"x"}  # outside allow_patterns
        fake.add_folder(REPO, folders / "v1", refs=("v1",), extra=never)
        fake.add_folder(REPO, folders / "v2", refs=("main",))
        fake.add_folder(default_repo_id("Breakout"), folders / "v2")
        fake.add_commit("someone/not-a-model", {"README.md": b"# nothing here\n", ".gitattributes": b"*.bin lfs\n"})
        yield fake


@pytest.fixture
def locate(folders, tmp_path):
    """``locate(calls, endpoint, offline)``: ``locate_model`` on each (model, game, revision) in a child process
    with the Hub at ``endpoint``, an isolated cache (the same for every call in a test) and the test assets."""

    def run(calls, endpoint, offline=False):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
        env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf"), JEDI_PLAY_ASSETS=str(folders / "assets"))
        env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        if offline:
            env["HF_HUB_OFFLINE"] = "1"
        command = [sys.executable, "-c", CHILD, json.dumps(calls)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", result.stderr  # no warnings around the one-line errors
        lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        assert lines, result.stdout
        return json.loads(lines[-1][len("RESULT ") :])

    return run


def closed_port_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more: connections are refused


def assert_one_line_error(result, *fragments):
    assert set(result) == {"error"}, result
    assert "\n" not in result["error"] and "Traceback" not in result["error"]
    for fragment in fragments:
        assert fragment in result["error"], result["error"]


def weights(result) -> bytes:
    return (Path(result["folder"]) / WEIGHTS).read_bytes()


def test_default_repo_id_and_repo_id_check():
    assert default_repo_id("Asterix") == "jedi-play/asterix-jedi"
    assert default_repo_id("ms_pacman") == "jedi-play/mspacman-jedi"
    assert is_repo_id("jedi-play/asterix-jedi")
    for text in ("asterix-jedi", "a/b/c", "./models/x", "/abs/path", "bad name/x", "a--b/c", "x/y.git", ""):
        assert not is_repo_id(text), text
    with pytest.raises(UserError, match="unknown game"):
        locate_model(None, "NoSuchGame")


def test_local_folder(folders, tmp_path):
    source = locate_model(str(folders / "v1"), "Breakout")
    assert source.origin == "local" and source.folder == folders / "v1"
    assert source.description == f"loaded the local folder {folders / 'v1'}"
    with pytest.raises(UserError, match="--revision applies to Hub repos"):
        locate_model(str(folders / "v1"), "Breakout", revision="v1")
    with pytest.raises(UserError, match="no folder .* and not a Hub repo id"):
        locate_model(str(tmp_path / "missing" / "model"), "Breakout")
    with pytest.raises(UserError, match="is a file, not a model folder"):
        locate_model(str(folders / "v1" / "config.json"), "Breakout")


def test_download_by_repo_id_and_revision(hub, folders, tmp_path, locate):
    sha_main, sha_v1 = hub.refs[REPO]["main"], hub.refs[REPO]["v1"]
    main, tag, pinned = locate([[REPO, "Breakout", rev] for rev in (None, "v1", sha_v1)], hub.endpoint)
    for result in (main, tag, pinned):
        assert result["origin"] == "hub", result
        assert Path(result["folder"]).is_relative_to(tmp_path / "hf"), result  # the isolated cache
    assert weights(main) == (folders / "v2" / WEIGHTS).read_bytes()
    assert weights(tag) == weights(pinned) == (folders / "v1" / WEIGHTS).read_bytes()
    assert Path(main["folder"]).name == sha_main and Path(pinned["folder"]).name == sha_v1
    assert main["description"].startswith(f"loaded {REPO} at revision {sha_main[:7]} from the Hub (cached in ")
    assert f"at revision v1 ({sha_v1[:7]})" in tag["description"]
    # only config.json, safetensors and the card: the pickle and the text file were neither fetched nor stored
    assert sorted(p.name for p in Path(tag["folder"]).iterdir()) == ["README.md", "config.json", WEIGHTS]
    assert not [path for path in hub.downloads() if path.endswith((".bin", ".txt"))]
    loaded = load_model_folder(Path(tag["folder"]), "Breakout")
    assert loaded.game == "Breakout" and loaded.kind == "jedi"
    with pytest.raises(UserError, match="is for Breakout, not Pong"):
        load_model_folder(Path(main["folder"]), "Pong")


def test_hub_errors_are_one_line(hub, locate):
    calls = [["someone/nope", "Breakout", None], [REPO, "Breakout", "v9"], ["someone/not-a-model", "Breakout", None]]
    missing, bad_revision, not_a_model, not_an_id = locate([*calls, ["a/b/c", "Breakout", None]], hub.endpoint)
    assert_one_line_error(missing, "the Hub has no repo someone/nope")
    assert_one_line_error(bad_revision, f"the Hub repo {REPO} has no revision v9")
    assert_one_line_error(not_a_model, "the Hub repo someone/not-a-model has no config.json")
    assert_one_line_error(not_an_id, "no folder a/b/c and not a Hub repo id")


def test_default_repo_then_bundled_fallback(hub, folders, locate):
    calls = [[None, "Breakout", None], [None, "Breakout", "v9"], [None, "Pong", None], [None, "Asterix", None]]
    served, bad_revision, unserved, nothing = locate(calls, hub.endpoint)
    assert served["origin"] == "hub" and served["description"].startswith("loaded jedi-play/breakout-jedi at revision ")
    assert weights(served) == (folders / "v2" / WEIGHTS).read_bytes()
    assert bad_revision["origin"] == "bundled" and Path(bad_revision["folder"]) == folders / "assets" / "breakout"
    assert bad_revision["description"].endswith("(the Hub repo jedi-play/breakout-jedi has no revision v9)")
    assert unserved["origin"] == "bundled" and Path(unserved["folder"]) == folders / "assets" / "pong"
    pong = folders / "assets" / "pong"
    assert unserved["description"] == f"loaded the bundled model {pong} (the Hub has no repo jedi-play/pong-jedi)"
    assert load_model_folder(Path(unserved["folder"]), "Pong").game == "Pong"
    assert_one_line_error(nothing, "no model for Asterix", "no repo jedi-play/asterix-jedi", "nothing is bundled in")


def test_offline_uses_the_cache(hub, folders, locate):
    first = locate([[REPO, "Breakout", None], [None, "Breakout", None]], hub.endpoint)
    requests_before = len(hub.requests)
    calls = [[REPO, "Breakout", None], [None, "Breakout", None], [REPO, "Breakout", "v1"]]
    cached, default, uncached = locate(calls, hub.endpoint, offline=True)
    assert len(hub.requests) == requests_before  # offline: not one request
    assert [cached["folder"], default["folder"]] == [r["folder"] for r in first]
    assert cached["origin"] == default["origin"] == "hub"
    assert "HF_HUB_OFFLINE is set" in cached["description"]
    assert weights(cached) == (folders / "v2" / WEIGHTS).read_bytes()
    assert_one_line_error(uncached, REPO, "offline (HF_HUB_OFFLINE is set)", "not in the cache")


def test_offline_with_an_empty_cache(hub, folders, locate):
    calls = [[None, "Breakout", None], [REPO, "Breakout", None], [None, "Asterix", None]]
    default, explicit, nothing = locate(calls, hub.endpoint, offline=True)
    assert default["origin"] == "bundled" and Path(default["folder"]) == folders / "assets" / "breakout"
    assert default["description"].endswith("(offline: HF_HUB_OFFLINE is set)")
    assert_one_line_error(explicit, REPO, "offline")
    assert_one_line_error(nothing, "no model for Asterix", "jedi-play/asterix-jedi", "offline", "nothing is bundled in")


def test_hub_down(folders, locate):
    default, explicit = locate([[None, "Breakout", None], [REPO, "Breakout", None]], closed_port_endpoint())
    assert default["origin"] == "bundled" and Path(default["folder"]) == folders / "assets" / "breakout"
    assert "(could not reach the Hub: " in default["description"]
    assert_one_line_error(explicit, f"could not reach the Hub for {REPO}")
