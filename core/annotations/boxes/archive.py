"""Unpacking a ZIP of box files: only box and class-name files (see :func:`core.archive.unpack_zip`)."""

from __future__ import annotations

from pathlib import Path

from core.archive import MAX_MEMBERS, MAX_UNPACKED_BYTES, discard_folder, unpack_zip

BOX_FILE_SUFFIXES = (".json", ".xml", ".txt", ".csv", ".names", ".yaml", ".yml")

__all__ = ["BOX_FILE_SUFFIXES", "MAX_MEMBERS", "MAX_UNPACKED_BYTES", "discard_folder", "unpack_box_zip"]


def unpack_box_zip(zip_path: Path, dest: Path, *, shown: str | None = None) -> int:
    """Extract the box and class-name files of ``zip_path`` into ``dest`` (keeping their folders); returns how
    many. Other members (images, hidden files, paths leaving the folder) are left in the ZIP."""
    unpacked = unpack_zip(zip_path, dest, wanted=lambda name: name.lower().endswith(BOX_FILE_SUFFIXES),
                          shown=shown, what="box files")
    return len(unpacked.files)
