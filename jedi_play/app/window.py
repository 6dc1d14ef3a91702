"""The pygame window: panes scaled to fit a resizable window, the HUD below them, keys, the help overlay.

Each frame: read the events (game keys are tracked as held, in the order they were pressed; a key pressed
and released within one frame still counts for that frame), advance the session unless paused, draw,
and wait for the frame cap. The window's own keys (``hud.APP_KEYS``) avoid the game keys (WASD, arrows,
space). With ``SDL_VIDEODRIVER=dummy`` it runs without a screen (tests, scripts).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402

from jedi_play.app.canvas import (  # noqa: E402  (re-exported: the window's layout and display)
    BACKGROUND,
    HUD_HEIGHT,
    Canvas,
    TimedNotice,
    close_display,
    layout,
    loop_rate,
    natural_size,
    no_display_message,
    open_display,
    save_window_on_exit,
    screenshot_notice,
    set_window_size,
)
from jedi_play.app.hud import PaneView, help_columns, hud_lines  # noqa: E402
from jedi_play.app.session import MODES, Session  # noqa: E402
from jedi_play.env.keymap import KEY_TO_ATOM  # noqa: E402

__all__ = ["HUD_HEIGHT", "RunStats", "Window", "close_display", "layout", "no_display_message", "open_display"]


QUIT_KEYS = {pygame.K_ESCAPE}
STEPS_UP_KEYS = {pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS}
STEPS_DOWN_KEYS = {pygame.K_MINUS, pygame.K_KP_MINUS, pygame.K_UNDERSCORE}
MODE_KEYS = {
    **{key: mode for key, mode in zip((pygame.K_1, pygame.K_2, pygame.K_3, pygame.K_4), MODES)},
    **{key: mode for key, mode in zip((pygame.K_KP1, pygame.K_KP2, pygame.K_KP3, pygame.K_KP4), MODES)},
}
HELP_KEYS = {pygame.K_h, pygame.K_F1}
RECORD_KEY = pygame.K_F9


@dataclass
class RunStats:
    """What one run of the window did: frames drawn, frames advanced, game steps and the time they took.

    A frame advances whenever play is not paused; it steps the game when some pane took a step (not while
    a finished episode or match is on show). ``step_seconds`` is the time from the frame before to each
    frame that stepped, so ``steps_per_second`` is the speed of play itself, whatever the holds in between.
    """

    frames: int
    advanced: int
    seconds: float
    game_steps: int = 0
    step_seconds: float = 0.0

    @property
    def mean_fps(self) -> float:
        return self.advanced / self.seconds if self.seconds > 0 else 0.0

    @property
    def steps_per_second(self) -> float:
        return self.game_steps / self.step_seconds if self.step_seconds > 0 else 0.0


class Window:
    """The play window over a ``Session``; ``run()`` until Esc, the window is closed or ``max_frames``."""

    def __init__(
        self,
        session: Session,
        *,
        pane_size: int = 640,
        fps: int = 15,
        max_frames: int | None = None,
        screenshot: Path | None = None,
        on_frame: Callable[[Window, int], None] | None = None,
    ) -> None:
        """``on_frame(window, frame)`` runs at the start of each frame (tests post their key events there)."""
        self.session = session
        self.pane_size = pane_size
        self.fps = fps
        self.max_frames = max_frames
        self.screenshot = screenshot
        self.on_frame = on_frame
        self.show_help = False
        self.running = False
        self._stop_asked = False
        self.held: list[str] = []  # game keys held, oldest first
        self._tapped: list[str] = []  # game keys pressed during this frame
        self._single_step = False
        self._notice = TimedNotice()
        self._times: deque[float] = deque(maxlen=31)
        self._panes = 0
        self._canvas: Canvas | None = None
        self.clock = pygame.time.Clock()

    # -- the window -----------------------------------------------------------------------------------

    def open(self) -> None:
        open_display()
        self._panes = len(self.session.views())
        set_window_size(natural_size(self.pane_size, self._panes))
        pygame.display.set_caption(f"JEDI Play: {self.session.game}")
        pygame.key.set_repeat()  # held keys are tracked, not repeated
        self._canvas = Canvas()

    def resize(self, size: tuple[int, int]) -> None:
        """Set the window's size (what a user's drag does)."""
        set_window_size(size)

    @property
    def size(self) -> tuple[int, int]:
        return pygame.display.get_surface().get_size()

    # -- the loop -------------------------------------------------------------------------------------

    def run(self) -> RunStats:
        """Play until Esc, a closed window or ``max_frames``; saves ``screenshot`` on the way out."""
        if pygame.display.get_surface() is None:
            self.open()
        self.running = not self._stop_asked
        frames = advanced = 0
        steps_before = steps_seen = self.session.game_steps
        step_seconds = 0.0
        first = last = time.perf_counter()
        views = self.session.views()
        while self.running:
            start = time.perf_counter()
            if self.on_frame is not None:
                self.on_frame(self, frames)
            for event in pygame.event.get():
                self.handle(event)
            if not self.running:
                break
            stepped = False
            if not self.session.paused or self._single_step:
                views = self.session.advance(self.person_action())
                now = time.perf_counter()
                if self.session.game_steps > steps_seen:
                    stepped = True
                    step_seconds += now - last
                    steps_seen = self.session.game_steps
                last = now
                self._times.append(last)
                advanced += 1
                self._single_step = False
            else:
                views = self.session.views()
            self._tapped.clear()
            self._fit(len(views))
            self.draw(views)
            pygame.display.flip()
            if stepped:
                self.session.frame_took(time.perf_counter() - start)
            frames += 1
            if self.max_frames is not None and frames >= self.max_frames:
                break
            self.clock.tick(loop_rate(self.fps, self.session.paused))
        if self.screenshot is not None:
            save_window_on_exit(self.screenshot)
        return RunStats(frames, advanced, last - first, steps_seen - steps_before, step_seconds)

    def stop(self) -> None:
        """End ``run`` after the frame in progress, as Esc does (a signal handler may call it at any time)."""
        self._stop_asked = True
        self.running = False

    def person_action(self) -> int:
        """The action of the held game keys (and of those tapped during this frame)."""
        keys = self.held + [k for k in self._tapped if k not in self.held]
        return self.session.keymap.action_for_keys(keys)

    def measured_fps(self) -> float:
        """Frames advanced per second over the last 30."""
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-9)

    def handle(self, event: pygame.event.Event) -> None:
        """One pygame event: quit, a game key held or released, or an app key."""
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.KEYDOWN:
            name = pygame.key.name(event.key)
            if name in KEY_TO_ATOM:
                if name in self.held:
                    self.held.remove(name)
                self.held.append(name)
                self._tapped.append(name)
            else:
                self._app_key(event.key)
        elif event.type == pygame.KEYUP:
            name = pygame.key.name(event.key)
            if name in self.held:
                self.held.remove(name)
        elif event.type == pygame.WINDOWFOCUSLOST:
            self.held.clear()  # key-ups go to another window

    def _app_key(self, key: int) -> None:
        session = self.session
        if key in QUIT_KEYS:
            self.running = False
        elif key == pygame.K_p:
            session.paused = not session.paused
        elif key == pygame.K_n:
            self._single_step = session.paused
        elif key == pygame.K_BACKSPACE:
            session.reset()
        elif key in STEPS_UP_KEYS:
            session.change_denoising_steps(+1)
        elif key in STEPS_DOWN_KEYS:
            session.change_denoising_steps(-1)
        elif key in MODE_KEYS:
            session.set_mode(MODE_KEYS[key])
        elif key == pygame.K_TAB:
            session.toggle_controller()
        elif key == pygame.K_r:
            session.toggle_world()
        elif key == pygame.K_y:
            session.resync()
        elif key in HELP_KEYS:
            self.show_help = not self.show_help
        elif key == RECORD_KEY:
            session.toggle_recording()
        elif key == pygame.K_F12:
            session.notice(screenshot_notice(session.game))

    def _fit(self, panes: int) -> None:
        """When a mode with another number of panes starts, resize the window to keep each pane's size."""
        if panes == self._panes:
            return
        pane_px = layout(self.size, self._panes)[0].width if self._panes else self.pane_size
        self._panes = panes
        set_window_size(natural_size(pane_px, panes))

    # -- drawing --------------------------------------------------------------------------------------

    def draw(self, views: list[PaneView]) -> None:
        assert self._canvas is not None
        screen = pygame.display.get_surface()
        screen.fill(BACKGROUND)
        rects = self._canvas.panes(screen, views)
        notice = self.session.take_notice()
        if notice:
            self._notice.show(notice)
        shown = self._notice.text
        hud = self.session.hud(self.measured_fps())
        self._canvas.hud(screen, hud_lines(hud, shown), notice=bool(shown))
        if self.show_help:
            self._canvas.help(screen, rects, help_columns(self.session.keymap, self.session.game))
