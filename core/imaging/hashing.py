"""Content hash of a source file, streamed (the whole file is never held in memory)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.errors import ImageImportError

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of the bytes of ``path``, read in 1 MiB chunks."""
    path = Path(path)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError as exc:
        raise ImageImportError(
            f"{path.name}: file not found at {path}; check the path and try again"
        ) from exc
    except IsADirectoryError as exc:
        raise ImageImportError(
            f"{path}: is a folder, not an image file; pass the image files inside it"
        ) from exc
    return digest.hexdigest()
