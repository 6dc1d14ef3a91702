"""The pygame window headless (SDL dummy driver), driven by posted key events."""

import numpy as np
import pygame
import pytest

from app_helpers import dream_outcomes
from jedi_play.app.session import Session
from jedi_play.app.window import HUD_HEIGHT, MODE_KEYS, RECORD_KEY, STEPS_DOWN_KEYS, STEPS_UP_KEYS, Window, close_display, layout
from jedi_play.data.store import EpisodeStore
from jedi_play.env.keymap import KEY_TO_ATOM

NOOP, UP, RIGHT, LEFT, UPRIGHT = 0, 1, 2, 3, 5


def key(kind, k):
    pygame.event.post(pygame.event.Event(kind, key=k, mod=0, unicode="", scancode=0))


def script(steps):
    """``on_frame`` posting ``steps[frame]`` (a list of (event type, key)) at the start of each frame."""

    def on_frame(window, frame):
        for kind, k in steps.get(frame, []):
            key(kind, k)

    return on_frame


@pytest.fixture
def window_for(loaded):
    """``window_for(steps, **options)``: an open window over a fresh session (seed 0) that records the actions."""
    opened = []

    def make(steps=None, mode="dream", record=None, **options):
        session = Session(loaded, mode=mode, seed=0, record=record)
        session.actions = []
        advance = session.advance

        def recording_advance(action):
            session.actions.append(action)
            return advance(action)

        session.advance = recording_advance
        options.setdefault("pane_size", 128)
        options.setdefault("fps", 0)
        window = Window(session, on_frame=script(steps or {}), **options)
        window.open()
        opened.append(session)
        return window

    yield make
    for session in opened:
        session.close()
    close_display()


def screen_pixels():
    return pygame.surfarray.array3d(pygame.display.get_surface()).swapaxes(0, 1)  # (H, W, 3)


def test_held_and_tapped_keys_give_the_persons_actions(window_for):
    down, up = pygame.KEYDOWN, pygame.KEYUP
    steps = {
        0: [(down, pygame.K_d)],
        2: [(down, pygame.K_w)],
        3: [(up, pygame.K_d)],
        4: [(up, pygame.K_w)],
        5: [(down, pygame.K_LEFT), (up, pygame.K_LEFT)],  # pressed and released within one frame
    }
    window = window_for(steps, max_frames=7)
    stats = window.run()
    assert window.session.actions == [RIGHT, RIGHT, UPRIGHT, UP, NOOP, LEFT, NOOP]
    assert stats.frames == stats.advanced == 7 and stats.mean_fps > 0
    assert stats.game_steps == window.session.game_steps and 0 < stats.game_steps <= 7 and stats.steps_per_second > 0


def test_the_pane_shows_the_dreamed_frame_and_actions_change_it(window_for):
    shown = []
    for held in (pygame.K_RIGHT, pygame.K_LEFT):
        window = window_for({0: [(pygame.KEYDOWN, held)]}, max_frames=4)
        window.run()
        (view,) = window.session.views()
        rect = layout(window.size, 1)[0]
        pixels = screen_pixels()
        scale = rect.width / 64
        for y, x in ((24, 0), (30, 40), (63, 63), (40, 10)):  # below the caption
            assert tuple(pixels[rect.top + int((y + 0.5) * scale), rect.left + int((x + 0.5) * scale)]) == tuple(view.frame[y, x])
        shown.append(pixels[rect.top + 40 : rect.bottom, rect.left : rect.right].copy())  # below the caption
    assert not np.array_equal(shown[0], shown[1])


def test_pause_single_step_and_resume(window_for):
    p, n = pygame.K_p, pygame.K_n
    steps = {2: [(pygame.KEYDOWN, p)], 4: [(pygame.KEYDOWN, n)], 6: [(pygame.KEYDOWN, n)], 8: [(pygame.KEYDOWN, p)]}
    window = window_for(steps, max_frames=10)
    stats = window.run()
    # frames 0-1 advance; paused at 2; N steps once at 4 and at 6; resumed at 8: frames 8 and 9 advance
    assert stats.frames == 10 and stats.advanced == 2 + 2 + 2
    assert window.session.mode.primary.steps == 6 and not window.session.paused


def test_app_keys(window_for, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = pygame.KEYDOWN
    steps = {
        1: [(d, pygame.K_EQUALS), (d, pygame.K_KP_PLUS), (d, pygame.K_KP_MINUS)],
        2: [(d, pygame.K_TAB)],
        3: [(d, pygame.K_h)],
        4: [(d, pygame.K_F12)],
        5: [(d, pygame.K_3)],
        7: [(d, pygame.K_y)],
        8: [(d, pygame.K_BACKSPACE)],
        9: [(d, pygame.K_ESCAPE)],
    }
    seen = {}

    def on_frame(window, frame):
        script(steps)(window, frame)
        seen[frame] = (window.session.denoising_steps, window.session.mode.name, window.session.mode.controller, window.size, window.show_help)

    window = window_for(max_frames=50)
    window.on_frame = on_frame
    stats = window.run()
    assert stats.frames == 9  # Esc at frame 9 quits before drawing it
    assert seen[2][0] == 4  # + (=), keypad +, keypad -
    assert seen[3][2] == "agent"  # Tab
    assert seen[4][4] is True  # H shows the help
    assert len(list(tmp_path.glob("jedi-play_asterix_*.png"))) == 1  # F12
    assert seen[6][1] == "compare" and seen[6][3] == (2 * 128, 128 + HUD_HEIGHT)  # 3: two panes, each kept at 128 px
    assert window.session.mode.primary.steps == 1  # Backspace at frame 8 (after 3 compare steps): a new episode, then 1 step


def test_help_overlay_darkens_the_panes(window_for):
    means = []
    for steps in ({}, {0: [(pygame.KEYDOWN, pygame.K_F1)]}):
        window = window_for(steps, max_frames=1, pane_size=256)
        window.run()
        rect = layout(window.size, 1)[0]
        means.append(screen_pixels()[rect.top + 40 : rect.bottom, rect.left : rect.right].mean())
    assert means[1] < means[0] * 0.5


def test_closing_the_window_quits(window_for):
    window = window_for({3: []}, max_frames=100)
    window.on_frame = lambda w, frame: pygame.event.post(pygame.event.Event(pygame.QUIT)) if frame == 3 else None
    assert window.run().frames == 3


def test_resized_window_fits_the_panes_and_the_screenshot(window_for, tmp_path):
    shot = tmp_path / "shot.png"
    window = window_for(max_frames=2, screenshot=shot)
    window.resize((500, 300))
    window.run()
    assert pygame.image.load(str(shot)).get_size() == (500, 300)
    (rect,) = layout((500, 300), 1)
    assert rect.size == (300 - HUD_HEIGHT, 300 - HUD_HEIGHT) and rect.centerx == 250


def test_app_keys_are_not_game_keys():
    app_keys = {pygame.K_ESCAPE, pygame.K_p, pygame.K_n, pygame.K_BACKSPACE, pygame.K_TAB, pygame.K_r, pygame.K_y, pygame.K_h, pygame.K_F1, pygame.K_F12}
    app_keys |= {RECORD_KEY}
    app_keys |= STEPS_UP_KEYS | STEPS_DOWN_KEYS | set(MODE_KEYS)
    assert not {pygame.key.name(k) for k in app_keys} & set(KEY_TO_ATOM)


def hud_has_red(window):
    """Whether the HUD shows the red REC mark."""
    hud = screen_pixels()[window.size[1] - HUD_HEIGHT :].astype(int)
    return bool(((hud[..., 0] > 180) & (hud[..., 1] < 90) & (hud[..., 2] < 90)).any())


def test_record_key_toggles_recording_of_the_keys_played(window_for, loaded, tmp_path):
    dream_outcomes(loaded, reward=1)
    d, u = pygame.KEYDOWN, pygame.KEYUP
    steps = {0: [(d, pygame.K_d)], 2: [(d, pygame.K_w)], 3: [(u, pygame.K_d)], 5: [(d, RECORD_KEY)], 7: [(d, RECORD_KEY)], 8: [(u, pygame.K_w)]}
    seen = {}

    def on_frame(window, frame):
        script(steps)(window, frame)
        if frame > 0:  # what the previous frame drew
            seen[frame - 1] = (window.session.recording, hud_has_red(window), window.session.hud(0).episode_return)

    window = window_for(max_frames=10, record=tmp_path / "rec")
    window.on_frame = on_frame
    window.run()
    actions = window.session.actions
    assert actions == [RIGHT, RIGHT, UPRIGHT, UP, UP, UP, UP, UP, NOOP, NOOP]
    window.session.close()
    first, second = EpisodeStore.open(tmp_path / "rec").load_all()
    assert first.actions.tolist() == actions[:5] and second.actions.tolist() == actions[7:]  # F9 off at 5, on at 7
    assert first.episode_return == seen[4][2] == 5  # the HUD's return when recording stopped
    assert [seen[f][:2] for f in (4, 5, 6, 7)] == [(True, True), (False, False), (False, False), (True, True)]
