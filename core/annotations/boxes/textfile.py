"""Reading a box file's text: bounded in size, UTF-8 (with or without a byte-order mark)."""

from __future__ import annotations

from pathlib import Path

MAX_BOX_FILE_BYTES = 512 * 1024 * 1024  # a COCO file of a large data set is a few hundred MB


class Unreadable(Exception):
    """A box file that cannot be read at all; its message says why (the reader adds the file's name)."""


def read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_BOX_FILE_BYTES:
            raise Unreadable(
                f"{size / 2**20:,.0f} MB, more than the {MAX_BOX_FILE_BYTES // 2**20} MB a box file may "
                "have; split it into smaller files"
            )
        return path.read_bytes()
    except OSError as exc:
        raise Unreadable(exc.strerror or str(exc)) from exc


def read_text(path: Path) -> str:
    data = read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8 text (byte {exc.start}); save it as UTF-8 text") from exc
