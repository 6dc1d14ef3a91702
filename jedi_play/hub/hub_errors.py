"""Reading what ``huggingface_hub`` raised, to turn it into one short line: shared by downloads and uploads.

``huggingface_hub`` wraps errors several layers deep (an ``HfHubHTTPError`` around an ``httpx2`` error around
a socket error); these helpers walk the chain of causes, find the HTTP status if the Hub answered, tell a
Hub that cannot be reached from one that said no, and keep the library's own log lines off stderr.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from huggingface_hub import constants
from huggingface_hub.utils import HfHubHTTPError, OfflineModeIsEnabled


def error_chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and its causes / contexts, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def in_chain(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``error`` or one of its causes is a ``kind``."""
    return any(isinstance(e, kind) for e in error_chain(error))


def http_status(error: BaseException) -> int | None:
    """The HTTP status code the Hub answered with, if it answered (None for network failures)."""
    for e in error_chain(error):
        response = getattr(e, "response", None) if isinstance(e, HfHubHTTPError) else None
        if response is not None:
            return int(response.status_code)
    return None


def transport_errors() -> tuple[type[Exception], ...]:
    """The base error classes of the HTTP library ``huggingface_hub`` uses (httpx2, httpx; requests' are OSErrors)."""
    found: list[type[Exception]] = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def is_unreachable(error: BaseException) -> bool:
    """Whether the request never got an answer from the Hub (refused, timed out, DNS, TLS...)."""
    return http_status(error) is None and isinstance(error, (ConnectionError, *transport_errors()))


def is_offline(error: BaseException | None = None) -> bool:
    """Whether ``HF_HUB_OFFLINE`` is set (read by huggingface_hub at import) or ``error`` says so."""
    return bool(getattr(constants, "HF_HUB_OFFLINE", False)) or (
        error is not None and in_chain(error, OfflineModeIsEnabled)
    )


def short_reason(error: BaseException) -> str:
    """One short line: the HTTP status if the Hub answered, else the innermost cause's first line."""
    status = http_status(error)
    if status is not None:
        return f"HTTP {status}"
    root = list(error_chain(error))[-1]
    lines = str(root).strip().splitlines()
    return one_line(f"{type(root).__name__}: {lines[0]}" if lines else type(root).__name__)[:160]


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


@contextmanager
def quiet_hub_logs() -> Iterator[None]:
    """Silence ``huggingface_hub``'s warnings (retries, fallbacks) so that an error stays one line on stderr."""
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
