"""Safe file names for uploads: no directories, no ``..``, no control or reserved characters."""

from __future__ import annotations

import re
import unicodedata

from core.errors import InvalidInputError

_RESERVED = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_DEVICES = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
_MAX_BYTES = 200
_FALLBACK_STEM = "image"


def _split_extension(name: str) -> tuple[str, str]:
    """Split ``name`` into stem and extension; ``.ome.tif``/``.ome.tiff`` count as one extension."""
    lower = name.lower()
    for double in (".ome.tiff", ".ome.tif"):
        if lower.endswith(double) and len(name) > len(double):
            return name[: -len(double)], name[-len(double) :]
    dot = name.rfind(".")
    if dot < 0:
        return name, ""
    return name[:dot], name[dot:]


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")[:max_bytes]
    return encoded.decode("utf-8", errors="ignore")


def sanitize_filename(name: str) -> str:
    """Return a safe, non-empty, non-hidden base name for ``name`` that keeps its extension.

    Directories (``/`` and ``\\``) are stripped, ``..`` runs collapse to ``.``, control characters and the
    characters ``<>:"/\\|?*`` are removed, leading dots and spaces and trailing dots and spaces go, Windows
    device names (``CON``, ``NUL``, ...) get a ``_`` prefix, and the result is at most 200 UTF-8 bytes.
    A name with nothing left becomes ``image`` (plus its extension, when it had one).
    """
    if not isinstance(name, str):
        raise InvalidInputError(f"a file name must be text (str), got {type(name).__name__}: {name!r}")
    text = unicodedata.normalize("NFC", name).replace("\\", "/")
    text = text.rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    text = _RESERVED.sub("", text)
    text = re.sub(r"\.{2,}", ".", text)
    text = text.strip(" ").rstrip(" .")
    stem, ext = _split_extension(text)
    ext = re.sub(r"\s+", "", ext)
    if ext == ".":
        ext = ""
    stem = stem.strip(" .")
    if not stem:
        stem = _FALLBACK_STEM
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    ext = _truncate_utf8(ext, 20)
    stem = _truncate_utf8(stem, _MAX_BYTES - len(ext.encode("utf-8"))).rstrip(" .") or _FALLBACK_STEM
    return stem + ext
