"""Write-then-rename outputs: a file appears under its final name complete, or not at all."""

from __future__ import annotations

import errno
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import StorageError

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def storage_error(target: Path, exc: OSError) -> StorageError:
    """A :class:`StorageError` for a failed write of ``target`` (disk full gets its own message)."""
    if isinstance(exc, StorageError):
        return exc
    if exc.errno in _DISK_FULL:
        err = StorageError(
            f"The disk is full: writing {target.name} in {target.parent} failed and nothing was kept. "
            "Free some disk space (or point SEGSTUDIO_DATA to a larger disk) and import the image again"
        )
    else:
        err = StorageError(
            f"Could not write {target.name} in {target.parent} ({exc.strerror or exc}); nothing was kept. "
            "Check that the folder exists and is writable, then import again"
        )
    err.errno = exc.errno
    return err


def temp_name(final: Path, suffix: str = ".part") -> Path:
    """A hidden, unique temporary name next to ``final`` (same folder, so os.replace is atomic)."""
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}{suffix}")


@contextmanager
def atomic_output(final: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``final``, on any failure it is removed.

    An ``OSError`` while writing becomes a :class:`StorageError` ("The disk is full ..." for ENOSPC).
    """
    tmp = temp_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(final, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_partials(folder: str | Path, *, min_age_s: float = 3600.0) -> list[Path]:
    """Remove temporary files/folders a killed import left in ``folder`` (``.*.part``, ``.*.levels``).

    Only entries older than ``min_age_s`` seconds go, so imports still running are left alone.
    Returns what was removed. Call it at start-up on each images folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    cutoff = time.time() - min_age_s
    removed = []
    for entry in folder.iterdir():
        if not entry.name.startswith(".") or not entry.name.endswith((".part", ".levels")):
            continue
        try:
            if entry.lstat().st_mtime > cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        removed.append(entry)
    return removed
