"""Episode files: round trip, validation, atomic writes and a real SIGKILL in the middle of one."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jedi_play.data import CorruptEpisodeError, Episode, EpisodeBuilder, atomic_write


def test_round_trip(tmp_path, episode_factory):
    ep = episode_factory(17, tag=2)
    ep.save(tmp_path / "e.npz")
    back = Episode.load(tmp_path / "e.npz")
    for name in ("frames", "actions", "rewards", "terminated", "truncated", "life_loss"):
        a, b = getattr(ep, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert len(back) == 17 and Episode.read_length(tmp_path / "e.npz") == 17
    assert [p.name for p in tmp_path.iterdir()] == ["e.npz"]  # no temporary file left behind


def test_inconsistent_arrays_are_refused(episode_factory):
    ep = episode_factory(5)
    with pytest.raises(ValueError):
        Episode(ep.frames[:-1], ep.actions, ep.rewards, ep.terminated, ep.truncated, ep.life_loss)
    with pytest.raises(ValueError):
        Episode(ep.frames, ep.actions[:-1], ep.rewards, ep.terminated, ep.truncated, ep.life_loss)


def test_damaged_file_is_reported(tmp_path, episode_factory):
    path = tmp_path / "e.npz"
    episode_factory(5).save(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptEpisodeError, match="damaged"):
        Episode.load(path)


def test_builder_marks_a_cut_episode_truncated():
    b = EpisodeBuilder(np.zeros((4, 4, 3), np.uint8))
    for t in range(3):
        b.add(t, 1.0, np.full((4, 4, 3), t + 1, np.uint8), terminated=False, truncated=False, life_loss=False)
    ep = b.build(cut=True)
    assert len(ep) == 3 and ep.frames.shape == (4, 4, 4, 3)
    assert ep.truncated.tolist() == [False, False, True] and not ep.terminated.any()


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write(b"new, half")
            raise RuntimeError("crash")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_sigkill_during_a_write_leaves_no_half_episode(tmp_path, episode_factory):
    """A process killed while writing leaves only its temporary file; the episode never appears."""
    target = tmp_path / "episode_000000.npz"
    child = textwrap.dedent(
        f"""
        import sys, time
        from jedi_play.data.atomic import atomic_write
        with atomic_write({str(target)!r}) as f:
            f.write(b"PK" + b"x" * 100000)
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    names = [p.name for p in tmp_path.iterdir()]
    assert not target.exists()
    assert len(names) == 1 and names[0].startswith(".episode_000000.npz.tmp-")
