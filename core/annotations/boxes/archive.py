"""Unpacking a ZIP of box files: only box and class-name files, never outside the folder, bounded in size."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path, PurePosixPath

from core.errors import InvalidInputError

BOX_FILE_SUFFIXES = (".json", ".xml", ".txt", ".csv", ".names", ".yaml", ".yml")
MAX_UNPACKED_BYTES = 2 * 1024**3
MAX_MEMBERS = 200_000


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The member's path parts, or None for a path that would leave the folder, a hidden file or a folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    parts = path.parts
    if not parts or path.is_absolute() or ":" in parts[0] or name.endswith("/"):
        return None
    if any(p in ("", ".", "..") or p.startswith(".") or p == "__MACOSX" for p in parts):
        return None
    return parts


def unpack_box_zip(zip_path: Path, dest: Path, *, shown: str | None = None) -> int:
    """Extract the box and class-name files of ``zip_path`` into ``dest`` (keeping their folders); returns how
    many. Other members (images, hidden files, paths leaving the folder) are left in the ZIP."""
    shown = shown or zip_path.name
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInputError(f"{shown}: not a readable ZIP ({exc}); give the box files themselves or a "
                                "ZIP made again.") from exc
    with archive:
        members = [(info, parts) for info in archive.infolist()
                   if not info.is_dir() and (parts := _safe_parts(info.filename)) is not None
                   and parts[-1].lower().endswith(BOX_FILE_SUFFIXES)]
        if len(members) > MAX_MEMBERS:
            raise InvalidInputError(f"{shown}: holds {len(members):,} box files, more than {MAX_MEMBERS:,}; "
                                    "import it in parts.")
        budget = MAX_UNPACKED_BYTES
        for info, parts in members:
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        budget -= len(chunk)
                        if budget < 0:
                            raise InvalidInputError(
                                f"{shown}: unpacks to more than {MAX_UNPACKED_BYTES // 1024**3} GB of box "
                                "files; import it in parts.")
                        out.write(chunk)
            except (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError) as exc:
                raise InvalidInputError(f"{shown}: {info.filename} could not be unpacked ({exc}); make the "
                                        "ZIP again.") from exc
    return len(members)


def discard_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
