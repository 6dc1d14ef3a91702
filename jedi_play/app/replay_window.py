"""``jedi-play replay``'s window: recorded episodes played back with the HUD, pause, speed and episode keys.

The loop draws one frame per tick at the playback speed (``+``/``-``); with ``SDL_VIDEODRIVER=dummy`` it
runs without a screen (tests, scripts), and ``max_frames`` / ``screenshot`` work as in the play window.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402

from jedi_play.app.canvas import (  # noqa: E402
    BACKGROUND,
    Canvas,
    TimedNotice,
    loop_rate,
    natural_size,
    open_display,
    save_window_on_exit,
    screenshot_notice,
    set_window_size,
)
from jedi_play.app.replay import REPLAY_KEYS, ReplayPlayer, step_speed  # noqa: E402

FASTER_KEYS = {pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS, pygame.K_UP}
SLOWER_KEYS = {pygame.K_MINUS, pygame.K_KP_MINUS, pygame.K_UNDERSCORE, pygame.K_DOWN}
NEXT_KEYS = {pygame.K_RIGHT, pygame.K_PAGEDOWN}
PREVIOUS_KEYS = {pygame.K_LEFT, pygame.K_PAGEUP}


class ReplayWindow:
    """The replay window over a ``ReplayPlayer``; ``run()`` until Esc, the window is closed or ``max_frames``."""

    def __init__(
        self,
        player: ReplayPlayer,
        *,
        pane_size: int = 640,
        fps: int = 15,
        max_frames: int | None = None,
        screenshot: Path | None = None,
        on_frame: Callable[[ReplayWindow, int], None] | None = None,
    ) -> None:
        """``on_frame(window, frame)`` runs at the start of each frame (tests post their key events there)."""
        self.player = player
        self.pane_size = pane_size
        self.fps = fps
        self.max_frames = max_frames
        self.screenshot = screenshot
        self.on_frame = on_frame
        self.show_help = False
        self.running = False
        self._stop_asked = False
        self._notice = TimedNotice()
        self._canvas: Canvas | None = None
        self.clock = pygame.time.Clock()

    def open(self) -> None:
        open_display()
        set_window_size(natural_size(self.pane_size, 1))
        pygame.display.set_caption(f"JEDI Play replay: {self.player.recordings.game}")
        self._canvas = Canvas()

    @property
    def size(self) -> tuple[int, int]:
        return pygame.display.get_surface().get_size()

    def run(self) -> int:
        """Play back until Esc, a closed window or ``max_frames``; returns the frames drawn."""
        if pygame.display.get_surface() is None:
            self.open()
        self.running = not self._stop_asked
        frames = 0
        while self.running:
            if self.on_frame is not None:
                self.on_frame(self, frames)
            for event in pygame.event.get():
                self.handle(event)
            if not self.running:
                break
            self.draw()
            pygame.display.flip()
            frames += 1
            if self.max_frames is not None and frames >= self.max_frames:
                break
            self.clock.tick(loop_rate(self.fps, self.player.paused))
            if not self.player.paused:
                self.player.advance()
        if self.screenshot is not None:
            save_window_on_exit(self.screenshot)
        return frames

    def stop(self) -> None:
        """End ``run`` after the frame in progress, as Esc does (a signal handler may call it at any time)."""
        self._stop_asked = True
        self.running = False

    def handle(self, event: pygame.event.Event) -> None:
        """One pygame event: quit or a replay key."""
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.KEYDOWN:
            self._key(event.key)

    def _key(self, key: int) -> None:
        player = self.player
        if key == pygame.K_ESCAPE:
            self.running = False
        elif key == pygame.K_p:
            player.paused = not player.paused
        elif key == pygame.K_n and player.paused:
            player.advance()
        elif key in FASTER_KEYS or key in SLOWER_KEYS:
            self.fps = step_speed(self.fps, faster=key in FASTER_KEYS)
            self._notice.show(f"speed: {self.fps} frames per second" if self.fps else "speed: uncapped")
        elif key in NEXT_KEYS:
            player.next_episode()
        elif key in PREVIOUS_KEYS:
            player.previous_episode()
        elif key == pygame.K_BACKSPACE:
            player.restart()
        elif key in (pygame.K_h, pygame.K_F1):
            self.show_help = not self.show_help
        elif key == pygame.K_F12:
            self._notice.show(screenshot_notice(f"replay_{self.player.recordings.game}"))

    def draw(self) -> None:
        assert self._canvas is not None
        screen = pygame.display.get_surface()
        screen.fill(BACKGROUND)
        rects = self._canvas.panes(screen, [self.player.view()])
        notice = self.player.take_notice()
        if notice:
            self._notice.show(notice)
        shown = self._notice.text
        self._canvas.hud(screen, self.player.hud_lines(self.fps, shown), notice=bool(shown))
        if self.show_help:
            self._canvas.help(screen, rects, [("Replay keys", REPLAY_KEYS)])
