"""Stopping a training loop cleanly: SIGTERM and SIGINT ask it to save a checkpoint and exit."""

from __future__ import annotations

import signal
from types import FrameType, TracebackType


class StopOnSignal:
    """``with StopOnSignal() as stop:`` ... ``if stop.requested: save and leave``; handlers restored on exit."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def __enter__(self) -> StopOnSignal:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
