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

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
#: The closing advice of an import's storage errors (other operations pass their own).
IMPORT_FULL_FIX = "Free some disk space (or point SEGSTUDIO_DATA to a larger disk) and import the image again"
IMPORT_RETRY = "import again"


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` or an exception it was raised from/during is "no space left" (ENOSPC, EDQUOT).

    Walks ``__cause__`` and ``__context__``: libraries that wrap the write (torch's ``RuntimeError``, a
    ``StorageError`` made from an ``OSError``) keep the original there.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        pending += [current.__cause__, current.__context__]
    return False


def storage_error(target: Path, exc: OSError, *, full_fix: str = IMPORT_FULL_FIX,
                  retry: str = IMPORT_RETRY) -> StorageError:
    """A :class:`StorageError` for a failed write of ``target`` (disk full gets its own message).

    ``full_fix`` is the advice after "The disk is full: ..."; ``retry`` ends the other message ("Check that
    the folder exists and is writable, then <retry>"). The defaults fit an image import. The error keeps
    ``errno`` of the failure and ``target`` (the path that was not written).
    """
    if isinstance(exc, StorageError):
        return exc
    if disk_full(exc):
        err = StorageError(
            f"The disk is full: writing {target.name} in {target.parent} failed and nothing was kept. "
            f"{full_fix}"
        )
        err.errno = errno.ENOSPC
    else:
        err = StorageError(
            f"Could not write {target.name} in {target.parent} ({exc.strerror or exc}); nothing was kept. "
            f"Check that the folder exists and is writable, then {retry}"
        )
        err.errno = exc.errno
    err.target = str(target)
    return err


def temp_name(final: Path, suffix: str = ".part") -> Path:
    """A hidden, unique temporary name next to ``final`` (same folder, so os.replace is atomic)."""
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}{suffix}")


@contextmanager
def atomic_output(final: Path, *, full_fix: str = IMPORT_FULL_FIX,
                  retry: str = IMPORT_RETRY) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``final``, on any failure it is removed.

    An ``OSError`` while writing becomes a :class:`StorageError` ("The disk is full ..." for ENOSPC; see
    :func:`storage_error` for ``full_fix`` and ``retry``).
    """
    tmp = temp_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(final, exc, full_fix=full_fix, retry=retry) from exc
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
