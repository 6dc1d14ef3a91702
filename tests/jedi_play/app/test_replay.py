"""``jedi-play replay``: the player's counters and moves, the window headless with keys, and bad input."""

import pygame
import pytest

from app_helpers import ASTERIX_ACTIONS
from cli_helpers import assert_main_error
from jedi_play.app.canvas import HUD_HEIGHT, close_display, layout
from jedi_play.app.cli import main
from jedi_play.app.replay import END_HOLD_FRAMES, ReplayPlayer, find_recordings, step_speed
from jedi_play.app.replay_window import ReplayWindow
from jedi_play.cli.errors import UserError
from jedi_play.data.store import EpisodeStore


@pytest.fixture
def folder(tmp_path, episode_factory):
    """Three Asterix episodes of 3, 4 and 2 steps (frame t of episode k filled with 50k + t), with facts for the first."""
    store = EpisodeStore.create(tmp_path / "episodes", "Asterix", ASTERIX_ACTIONS)
    store.append(episode_factory(3, tag=0, size=64), {"mode": "dream", "world": "dream", "controllers": ["person"]})
    store.append(episode_factory(4, tag=1, size=64))
    store.append(episode_factory(2, tag=2, size=64))
    return store


@pytest.fixture
def windows():
    """``make(player, steps, **options)``: an open replay window whose ``on_frame`` posts ``steps[frame]`` keys
    and keeps a pixel of the pane (below its captions) of each frame drawn in ``window.seen``."""

    def make(player, steps=None, **options):
        options.setdefault("pane_size", 64)
        options.setdefault("fps", 0)

        def on_frame(window, frame):
            if frame > 0:
                rect = layout(window.size, 1)[0]
                window.seen.append(int(pygame.display.get_surface().get_at((rect.centerx, rect.bottom - 3))[0]))
            for k in (steps or {}).get(frame, []):
                pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="", scancode=0))

        window = ReplayWindow(player, on_frame=on_frame, **options)
        window.seen = []
        window.open()
        return window

    yield make
    close_display()


def test_player_counters_hold_and_episode_moves(folder):
    player = ReplayPlayer(find_recordings(folder.root))
    assert (player.count, player.t, player.reward, player.episode_return, player.action_name()) == (3, 0, 0.0, 0.0, "-")
    player.advance()
    player.advance()
    episode = player.episode  # actions t % 4, rewards t
    assert player.t == 2 and player.reward == episode.rewards[1] and player.episode_return == episode.rewards[:2].sum()
    assert player.action_name() == ASTERIX_ACTIONS[int(episode.actions[1])]
    lines = player.hud_lines(15)
    assert lines[0] == "Asterix   replay   episode_000000.npz   mode dream   world dream   controller person"
    assert lines[1] == "step 2 of 3   reward +1   return 1   speed 15 fps"
    player.advance()
    view = player.view()
    assert view.done and view.caption == "ended" and view.steps == 3 and (view.frame == 3).all()
    for _ in range(END_HOLD_FRAMES - 1):
        player.advance()
    assert player.index == 0 and player.at_end  # held
    player.advance()
    assert player.index == 1 and player.t == 0 and player.facts == {}
    player.previous_episode()
    player.previous_episode()  # wraps around to the last
    assert player.index == 2 and (player.view().frame == 100).all()
    player.advance()
    player.restart()
    assert player.t == 0


def test_damaged_episodes_are_skipped_with_a_notice(folder):
    folder.paths()[1].write_bytes(b"garbage")
    player = ReplayPlayer(find_recordings(folder.root))
    player.next_episode()
    assert player.index == 2 and "episode_000001.npz" in player.take_notice()
    for path in folder.paths():
        path.write_bytes(b"garbage")
    with pytest.raises(UserError, match="none of the 3 episode file"):
        ReplayPlayer(find_recordings(folder.root))


def test_speeds():
    assert [step_speed(15, True), step_speed(15, False), step_speed(120, True), step_speed(1, False)] == [30, 8, 120, 1]
    assert (step_speed(0, True), step_speed(0, False), step_speed(20, False)) == (0, 120, 15)


def test_window_draws_the_frames_as_they_play(folder, windows):
    window = windows(ReplayPlayer(find_recordings(folder.root)), max_frames=8)
    assert window.run() == 8
    # episode 0's frames 0..3 (values 0..3), held at its end; the pane shows each frame drawn
    assert window.seen[:4] == [0, 1, 2, 3] and window.seen[4:] == [3, 3, 3]
    assert window.size == (64, 64 + HUD_HEIGHT)


def test_window_keys(folder, windows):
    k = pygame
    steps = {1: [k.K_p], 3: [k.K_n], 4: [k.K_n], 5: [k.K_p], 6: [k.K_RIGHT], 8: [k.K_LEFT], 9: [k.K_BACKSPACE], 10: [k.K_MINUS], 11: [k.K_ESCAPE]}
    window = windows(ReplayPlayer(find_recordings(folder.root)), steps, max_frames=50)
    assert window.run() == 11
    # 0 then 1; paused at 1 (1, 1); N, N: 2, 3; resumed; Right: episode 1 (50, 51); Left: back to 0; Backspace: 0 again
    assert window.seen == [0, 1, 1, 2, 3, 3, 50, 51, 0, 0, 1]
    assert window.fps == 120  # '-' from uncapped: the fastest capped speed


def test_replay_command_and_its_errors(folder, tmp_path, capsys):
    shot = tmp_path / "replay.png"
    argv = ["replay", str(folder.root), "--max-frames", "3", "--fps", "0", "--size", "96", "--screenshot", str(shot)]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == f"replayed 3 episode(s) from {folder.root}: 3 frames drawn"
    assert pygame.image.load(str(shot)).get_size() == (96, 96 + HUD_HEIGHT)
    assert main(["replay", str(folder.paths()[2]), "--max-frames", "2", "--fps", "0", "--size", "64"]) == 0
    assert "replayed 1 episode(s)" in capsys.readouterr().out
    assert_main_error(main, capsys, ["replay", str(tmp_path / "missing")], "does not exist")
    assert_main_error(main, capsys, ["replay", str(tmp_path)], "not an episode folder")
    assert_main_error(main, capsys, ["replay", str(folder.root), "--episode", "5"], "--episode 5")
    assert_main_error(main, capsys, ["replay", str(folder.root), "--size", "10"], "--size")
    assert_main_error(main, capsys, ["replay", str(folder.root), "--max-frames", "0"], "--max-frames")
    empty = EpisodeStore.create(tmp_path / "empty", "Asterix", ASTERIX_ACTIONS)
    assert_main_error(main, capsys, ["replay", str(empty.root)], "holds no episodes")
    folder.paths()[0].write_bytes(b"garbage")
    assert_main_error(main, capsys, ["replay", str(folder.paths()[0])], "damaged")
