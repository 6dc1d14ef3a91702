"""``jedi-train collect`` and ``jedi-train inspect`` end to end on a real game."""

import numpy as np

from cli_helpers import assert_one_line_error, run_script
from trainer.data import EpisodeStore


def test_collect_writes_episodes_that_load_back(tmp_path):
    out = tmp_path / "data"
    result = run_script("jedi-train", "collect", "--game", "Breakout", "--steps", "300", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "collected 300 steps" in result.stdout
    store = EpisodeStore.open(out)
    assert store.game == "Breakout" and store.action_meanings == ["NOOP", "FIRE", "RIGHT", "LEFT"]
    episodes = store.load_all()
    assert sum(len(e) for e in episodes) == 300
    for e in episodes[:-1]:
        assert e.terminated[-1] and e.life_loss[-1]  # the training env ends episodes on a lost life
        assert not e.terminated[:-1].any()
    assert episodes[-1].terminated[-1] or episodes[-1].truncated[-1]
    assert all(e.frames.shape[1:] == (64, 64, 3) and e.frames.dtype == np.uint8 for e in episodes)
    assert len({e.actions.tobytes() for e in episodes}) == len(episodes)  # a random policy, not a constant one

    result = run_script("jedi-train", "collect", "--game", "Breakout", "--steps", "50", "--out", str(out), "--policy", "person")
    assert result.returncode == 0, result.stderr
    assert "collected 50 steps of person play" in result.stdout
    store = EpisodeStore.open(out)
    assert store.num_steps() == 350  # extended, nothing lost
    held = np.concatenate([e.actions for e in store.load_all()[len(episodes):]])
    assert (held[1:] == held[:-1]).mean() > 0.5  # a person holds a key; uniform play over 4 actions repeats 1 in 4

    result = run_script("jedi-train", "inspect", str(out))
    assert result.returncode == 0 and "Breakout" in result.stdout and "350 steps" in result.stdout


def test_collect_into_another_games_folder_is_refused(tmp_path):
    out = tmp_path / "data"
    assert run_script("jedi-train", "collect", "--game", "Breakout", "--steps", "20", "--out", str(out)).returncode == 0
    before = sorted(p.name for p in out.iterdir())
    assert_one_line_error(
        run_script("jedi-train", "collect", "--game", "Pong", "--steps", "20", "--out", str(out)), "holds Breakout"
    )
    assert sorted(p.name for p in out.iterdir()) == before


def test_inspect_bad_folders(tmp_path):
    assert_one_line_error(run_script("jedi-train", "inspect", str(tmp_path / "missing")), "does not exist")
    assert_one_line_error(run_script("jedi-train", "inspect", str(tmp_path)), "not an episode folder")
    (tmp_path / "meta.json").write_text("{broken")
    assert_one_line_error(run_script("jedi-train", "inspect", str(tmp_path)), "cannot read")


def test_inspect_reports_a_damaged_episode(tmp_path):
    out = tmp_path / "data"
    assert run_script("jedi-train", "collect", "--game", "Breakout", "--steps", "20", "--out", str(out)).returncode == 0
    first = sorted(out.glob("episode_*.npz"))[0]
    first.write_bytes(first.read_bytes()[:200])
    assert_one_line_error(run_script("jedi-train", "inspect", str(out)), first.name, "damaged")
