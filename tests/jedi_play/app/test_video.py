"""``jedi-play export-video``: GIFs read back with Pillow, MP4s decoded by ffmpeg, and bad input."""

import os
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from app_helpers import ASTERIX_ACTIONS
from cli_helpers import assert_main_error as assert_error
from jedi_play.app.cli import main
from jedi_play.app.video import upscale
from jedi_play.data.store import EpisodeStore

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg on PATH (apt-get install ffmpeg)")


@pytest.fixture
def folder(tmp_path, episode_factory):
    """An Asterix episode folder of two episodes (3 and 4 steps) whose frames all differ, 16x16 pixels."""
    store = EpisodeStore.create(tmp_path / "episodes", "Asterix", ASTERIX_ACTIONS)
    store.append(episode_factory(3, tag=1, size=16))
    store.append(episode_factory(4, tag=2, size=16))
    return store


def gif_frames(path):
    with Image.open(path) as im:
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
        return frames, im.info.get("duration")


def leftovers(folder):
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name]


def test_upscale_is_nearest_neighbour():
    frame = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    big = upscale(frame, 3)
    assert big.shape == (6, 6, 3) and np.array_equal(big[::3, ::3], frame) and np.array_equal(big[2, 5], frame[0, 1])


def test_gif_of_a_folder_and_of_one_episode(folder, tmp_path, capsys):
    out = tmp_path / "all.gif"
    assert main(["export-video", str(folder.root), "--to", str(out), "--fps", "20", "--scale", "3"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}: 2 episode(s), 9 frames of 48x48 at 20 fps"
    frames, duration = gif_frames(out)
    episodes = folder.load_all()
    expected = [f for e in episodes for f in e.frames]
    assert len(frames) == 9 and duration == 50 and frames[0].shape == (48, 48, 3)
    assert all(np.array_equal(f, upscale(e, 3)) for f, e in zip(frames, expected))
    one = tmp_path / "one.gif"
    assert main(["export-video", str(folder.paths()[1]), "--to", str(one)]) == 0  # a file: 5 frames at the default x4
    frames, _ = gif_frames(one)
    assert len(frames) == 5 and frames[0].shape == (64, 64, 3)
    assert main(["export-video", str(folder.root), "--episode", "0", "--to", str(one)]) == 0  # replaced
    assert len(gif_frames(one)[0]) == 4 and leftovers(tmp_path) == []


@needs_ffmpeg
def test_mp4_through_ffmpeg(folder, tmp_path, capsys):
    out = tmp_path / "all.mp4"
    assert main(["export-video", str(folder.root), "--to", str(out), "--scale", "4"]) == 0
    assert "9 frames of 64x64 at 15 fps" in capsys.readouterr().out
    decoded = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(out), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True
    ).stdout
    frames = np.frombuffer(decoded, np.uint8).reshape(-1, 64, 64, 3)
    expected = np.stack([upscale(f, 4) for e in folder.load_all() for f in e.frames])
    assert len(frames) == 9 and np.abs(frames.astype(int) - expected).mean() < 4  # lossy, but the same pictures
    assert leftovers(tmp_path) == []


def test_mp4_without_ffmpeg_is_one_line(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert_error(main, capsys, ["export-video", str(folder.root), "--to", str(tmp_path / "a.mp4")], "needs ffmpeg", "install")
    assert not (tmp_path / "a.mp4").exists()


def test_failing_ffmpeg_leaves_nothing(folder, tmp_path, capsys, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ffmpeg"
    fake.write_text("#!/bin/sh\ncat > /dev/null\necho 'Unknown encoder: nothing here' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "a.mp4"
    assert_error(main, capsys, ["export-video", str(folder.root), "--to", str(out)], "ffmpeg could not write", "Unknown encoder")
    assert not out.exists() and leftovers(tmp_path) == []


def test_bad_input_is_one_line(folder, tmp_path, capsys):
    src, gif = str(folder.root), str(tmp_path / "a.gif")
    assert_error(main, capsys, ["export-video", src, "--to", str(tmp_path / "a.avi")], "--to", ".mp4 or .gif")
    assert_error(main, capsys, ["export-video", src, "--to", str(tmp_path / "no" / "a.gif")], "--to", "does not exist")
    assert_error(main, capsys, ["export-video", src, "--to", gif, "--fps", "0"], "--fps")
    assert_error(main, capsys, ["export-video", src, "--to", gif, "--scale", "0"], "--scale")
    assert_error(main, capsys, ["export-video", src, "--to", gif, "--episode", "2"], "--episode 2", "episodes 0 to 1")
    assert_error(main, capsys, ["export-video", str(tmp_path / "missing"), "--to", gif], "does not exist")
    assert_error(main, capsys, ["export-video", str(tmp_path), "--to", gif], "not an episode folder")
    (tmp_path / "notes.txt").write_text("x")
    assert_error(main, capsys, ["export-video", str(tmp_path / "notes.txt"), "--to", gif], "neither an episode file")
    folder.paths()[0].write_bytes(b"garbage")
    assert_error(main, capsys, ["export-video", str(folder.paths()[0]), "--to", gif], "episode_000000.npz", "damaged")
    empty = EpisodeStore.create(tmp_path / "empty", "Asterix", ASTERIX_ACTIONS)
    assert_error(main, capsys, ["export-video", str(empty.root), "--to", gif], "holds no episodes")
    assert not (tmp_path / "a.gif").exists() and leftovers(tmp_path) == []
