"""Unpacking an uploaded ZIP safely: only the members asked for, never outside the folder, bounded in size and
number. Hidden files, macOS ``__MACOSX`` folders and paths that would leave the folder are never unpacked."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from core.errors import InvalidInputError

MAX_UNPACKED_BYTES = 2 * 1024**3
MAX_MEMBERS = 200_000


@dataclass
class Unpacked:
    """What :func:`unpack_zip` did: ``files`` the members unpacked (their paths in the ZIP, ``/``-separated);
    ``left_out`` the other files of the ZIP (not wanted), hidden and unsafe members not counted."""

    files: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def safe_parts(name: str) -> tuple[str, ...] | None:
    """The member's path parts, or None for a path that would leave the folder, a hidden file or a folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    parts = path.parts
    if not parts or path.is_absolute() or ":" in parts[0] or name.endswith("/"):
        return None
    if any(p in ("", ".", "..") or p.startswith(".") or p == "__MACOSX" for p in parts):
        return None
    return parts


def unpack_zip(zip_path: Path, dest: Path, *, wanted: Callable[[str], bool], shown: str | None = None,
               what: str = "files", max_bytes: int = MAX_UNPACKED_BYTES) -> Unpacked:
    """Extract the members of ``zip_path`` whose file name ``wanted`` accepts into ``dest`` (keeping their
    folders). ``what`` names them in messages ("box files", "images"). A ZIP that cannot be read, holds more
    than :data:`MAX_MEMBERS` wanted members or unpacks to more than ``max_bytes`` raises InvalidInputError
    (what was unpacked so far stays in ``dest``; the caller discards the folder)."""
    shown = shown or zip_path.name
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInputError(f"{shown}: not a readable ZIP ({exc}); give the {what} themselves or a ZIP "
                                "made again.") from exc
    out = Unpacked()
    with archive:
        members = []
        for info in archive.infolist():
            parts = None if info.is_dir() else safe_parts(info.filename)
            if parts is None:
                continue
            if wanted(parts[-1]):
                members.append((info, parts))
            else:
                out.left_out.append("/".join(parts))
        if len(members) > MAX_MEMBERS:
            raise InvalidInputError(f"{shown}: holds {len(members):,} {what}, more than {MAX_MEMBERS:,}; "
                                    "import it in parts.")
        budget = max_bytes
        for info, parts in members:
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, open(target, "wb") as sink:
                    while chunk := src.read(1 << 20):
                        budget -= len(chunk)
                        if budget < 0:
                            raise InvalidInputError(
                                f"{shown}: unpacks to more than {max_bytes / 1024**3:g} GB of {what}; import "
                                "it in parts.")
                        sink.write(chunk)
            except (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError) as exc:
                raise InvalidInputError(f"{shown}: {info.filename} could not be unpacked ({exc}); make the "
                                        "ZIP again.") from exc
            out.files.append("/".join(parts))
    return out


def discard_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
