"""tifffile's complaints about a file, caught where files are read instead of leaking onto stderr.

tifffile reports what it skips in a damaged file (a broken tag, a bad page offset) through its logger
(``logging.getLogger("tifffile")``); without a handler, Python prints those records on stderr around our own
messages. Reads run inside :func:`caught_tiff_warnings`, which collects them so that the caller can fold
them into its message or the image's notes. (tifffile's ``warnings.warn`` calls are about writing or about
files read after closing, neither of which happens on our reading paths.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

_LOGGER = "tifffile"
MAX_KEPT = 3  # distinct messages folded into a message or note


class _Collector(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(level=logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING:
            return
        text = record.getMessage().strip()
        if text and text not in self.sink:
            self.sink.append(text)


@contextmanager
def caught_tiff_warnings() -> Iterator[list[str]]:
    """Collect tifffile's warnings (distinct messages, in order) in the yielded list while the block runs."""
    messages: list[str] = []
    handler = _Collector(messages)
    logger = logging.getLogger(_LOGGER)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def reader_said(messages: list[str]) -> str:
    """``"; the TIFF reader reported: a; b"`` for the first few messages, or ``""``."""
    if not messages:
        return ""
    shown = [m if len(m) <= 160 else m[:157] + "..." for m in messages[:MAX_KEPT]]
    more = f" (and {len(messages) - MAX_KEPT} more)" if len(messages) > MAX_KEPT else ""
    return "; the TIFF reader reported: " + "; ".join(shown) + more
