"""Drawing that the play window and the replay window share: the display, pane layout, frames, text.

Panes are square and side by side above a HUD of ``HUD_LINES`` text lines; frames are scaled by nearest
neighbour. ``Canvas`` renders (and caches) text and draws frames, captions, HUD lines and help columns
onto the display surface.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402

from jedi_play.app.hud import HUD_LINES, REC_MARK, HelpColumn, PaneView, number  # noqa: E402
from jedi_play.cli.errors import UserError  # noqa: E402

FONT_SIZE = 20
LINE_HEIGHT = 18
HUD_HEIGHT = HUD_LINES * LINE_HEIGHT + 8
HELP_KEY_WIDTH = 84  # the help overlay's key column; the description follows
HELP_COLUMN_WIDTH = 300  # narrower panes get the help's columns one above the other
BACKGROUND = (16, 16, 20)
TEXT = (230, 230, 230)
DIM = (150, 150, 160)
ACCENT = (255, 210, 90)
RECORDING = (230, 40, 40)
PAUSED_FPS = 30  # the loop's rate while paused, so that a paused uncapped window does not spin
NOTICE_SECONDS = 2.5

Colour = tuple[int, int, int]


def open_display() -> None:
    """Start pygame's video and fonts, or raise ``UserError`` when there is no display to open a window on."""
    try:
        pygame.display.init()
        pygame.font.init()
    except pygame.error as e:
        raise UserError(no_display_message(e)) from None


def no_display_message(error: pygame.error) -> str:
    return f"cannot open a window: {error} (no display? SDL_VIDEODRIVER=dummy runs without a screen)"


def close_display() -> None:
    """Close the window (if any) and pygame's video and fonts."""
    pygame.font.quit()
    pygame.display.quit()


def set_window_size(size: tuple[int, int]) -> None:
    """Open or resize the (resizable) window, or raise ``UserError``."""
    try:
        pygame.display.set_mode(size, pygame.RESIZABLE)
    except pygame.error as e:
        raise UserError(no_display_message(e)) from None


def natural_size(pane_px: int, panes: int) -> tuple[int, int]:
    """``panes`` panes of ``pane_px`` and the HUD, shrunk to fit the desktop."""
    desktops = pygame.display.get_desktop_sizes() if pygame.display.get_init() else []
    if desktops:
        width, height = desktops[0]
        pane_px = max(64, min(pane_px, width // panes, height - HUD_HEIGHT))
    return pane_px * panes, pane_px + HUD_HEIGHT


def layout(window_size: tuple[int, int], panes: int) -> list[pygame.Rect]:
    """Square pane rectangles side by side, as large as fit above the HUD, centred."""
    width, height = window_size
    px = max(8, min(width // max(panes, 1), height - HUD_HEIGHT))
    left = (width - px * panes) // 2
    top = max(0, (height - HUD_HEIGHT - px) // 2)
    return [pygame.Rect(left + i * px, top, px, px) for i in range(panes)]


def timestamped_name(name: str) -> Path:
    """``jedi-play_<name>_<date>-<time>.png`` in the current folder, not overwriting an earlier one."""
    stem = f"jedi-play_{name.lower()}_{datetime.now():%Y%m%d-%H%M%S}"
    path, n = Path(f"{stem}.png"), 2
    while path.exists():
        path, n = Path(f"{stem}_{n}.png"), n + 1
    return path


def loop_rate(fps: int, paused: bool) -> int:
    """The frame cap to tick at: ``fps`` (0 for none), at most ``PAUSED_FPS`` while paused."""
    return min(fps or PAUSED_FPS, PAUSED_FPS) if paused else fps


def save_window(path: Path) -> Path:
    """Save the window as an image (PNG for a ``.png`` name)."""
    pygame.image.save(pygame.display.get_surface(), str(path))
    return path


def save_window_on_exit(path: Path) -> None:
    """``save_window`` for ``--screenshot``: a failure is one ``UserError`` line."""
    try:
        save_window(path)
    except (pygame.error, OSError) as e:
        raise UserError(f"could not save the screenshot {path}: {e}") from None


def screenshot_notice(name: str) -> str:
    """Save the window under a new timestamped name (F12); returns the notice saying where, or why not."""
    try:
        return f"screenshot saved to {save_window(timestamped_name(name))}"
    except (pygame.error, OSError) as e:
        return f"could not save a screenshot: {e}"


class TimedNotice:
    """A one-line notice shown in the HUD for ``NOTICE_SECONDS``."""

    def __init__(self) -> None:
        self._text, self._until = "", 0.0

    def show(self, text: str) -> None:
        self._text, self._until = text, time.perf_counter() + NOTICE_SECONDS

    @property
    def text(self) -> str:
        """The notice while it lasts, else ''."""
        return self._text if time.perf_counter() < self._until else ""


class Canvas:
    """Text and frames drawn onto the display surface (open the display first)."""

    def __init__(self) -> None:
        self._font = pygame.font.Font(None, FONT_SIZE)
        self._text_cache: dict[tuple[str, Colour], pygame.Surface] = {}
        self._overlay: pygame.Surface | None = None

    def text(self, text: str, colour: Colour) -> pygame.Surface:
        """Rendered text, cached (the HUD changes a few numbers a frame; the cache is cleared when it grows)."""
        key = (text, colour)
        surface = self._text_cache.get(key)
        if surface is None:
            if len(self._text_cache) > 512:
                self._text_cache.clear()
            surface = self._text_cache[key] = self._font.render(text, True, colour)
        return surface

    def panes(self, screen: pygame.Surface, views: Sequence[PaneView]) -> list[pygame.Rect]:
        """Each view's frame scaled into its rectangle, with its caption; returns the rectangles."""
        rects = layout(screen.get_size(), len(views))
        for view, rect in zip(views, rects):
            frame = pygame.image.frombuffer(view.frame, view.frame.shape[1::-1], "RGB").convert()
            pygame.transform.scale(frame, rect.size, screen.subsurface(rect))
            self._caption(screen, view, rect)
        return rects

    def _caption(self, screen: pygame.Surface, view: PaneView, rect: pygame.Rect) -> None:
        self._label(
            screen,
            f"{view.title}   step {view.steps}   return {number(view.episode_return)}",
            TEXT,
            rect.topleft,
            rect.width,
        )
        if view.caption:
            self._label(screen, view.caption, ACCENT, (rect.left, rect.top + LINE_HEIGHT + 2), rect.width)

    def _label(self, screen: pygame.Surface, text: str, colour: Colour, at: tuple[int, int], width: int) -> None:
        label = self.text(text, colour)
        screen.fill((0, 0, 0), pygame.Rect(at[0], at[1], min(width, label.get_width() + 8), LINE_HEIGHT + 2))
        screen.blit(label, (at[0] + 4, at[1] + 3))

    def hud(self, screen: pygame.Surface, lines: Sequence[str], notice: bool = False) -> None:
        """The HUD's lines below the panes; the last one highlighted when it is a ``notice``; a leading
        ``REC`` in red."""
        top = screen.get_height() - HUD_HEIGHT + 4
        for i, line in enumerate(lines):
            colour = ACCENT if (i == len(lines) - 1 and notice) else (TEXT if i < 2 else DIM)
            left = 8
            if i == 0 and line.startswith(REC_MARK):
                mark = self.text(REC_MARK, RECORDING)
                screen.blit(mark, (left, top))
                left, line = left + mark.get_width(), line[len(REC_MARK) :]
            screen.blit(self.text(line, colour), (left, top + i * LINE_HEIGHT))

    def help(self, screen: pygame.Surface, rects: Sequence[pygame.Rect], columns: Sequence[HelpColumn]) -> None:
        """The help overlay: the panes darkened, and the columns of (keys, what they do) over them."""
        area = rects[0].unionall(list(rects[1:])) if len(rects) > 1 else rects[0]
        if self._overlay is None or self._overlay.get_size() != area.size:
            self._overlay = pygame.Surface(area.size, pygame.SRCALPHA)
            self._overlay.fill((0, 0, 0, 210))
        screen.blit(self._overlay, area.topleft)
        side_by_side = area.width >= len(columns) * HELP_COLUMN_WIDTH
        top = area.top + 10
        for c, (title, rows) in enumerate(columns):
            left = area.left + 12 + (c * area.width // len(columns) if side_by_side else 0)
            screen.blit(self.text(title, ACCENT), (left, top))
            for i, (keys, what) in enumerate(rows, start=1):
                screen.blit(self.text(keys, TEXT), (left, top + i * LINE_HEIGHT))
                screen.blit(self.text(what, TEXT), (left + HELP_KEY_WIDTH, top + i * LINE_HEIGHT))
            if not side_by_side:
                top += (len(rows) + 2) * LINE_HEIGHT
