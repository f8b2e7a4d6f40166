"""Which file formats import, recognised by their first bytes (the extension is only a hint)."""

from __future__ import annotations

from pathlib import Path

from core.errors import ImageImportError

# format key -> (description, extensions)
SUPPORTED_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "tiff": (
        "TIFF / OME-TIFF / ImageJ TIFF and whole-slide TIFFs (Aperio SVS, Hamamatsu NDPI, Leica SCN, "
        "Ventana BIF, Philips TIFF, pyramidal OME-TIFF)",
        (".tif", ".tiff", ".ome.tif", ".ome.tiff", ".btf", ".svs", ".ndpi", ".scn", ".bif", ".qptiff"),
    ),
    "png": ("PNG", (".png",)),
    "jpeg": ("JPEG", (".jpg", ".jpeg", ".jpe", ".jfif")),
}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
)

# Formats people try that we can name, with the conversion to suggest.
_FOREIGN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"ZISRAWFILE", "Zeiss CZI"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000 codestream"),
    (b"\x89HDF", "HDF5"),
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"%PDF", "PDF"),
    (b"RIFF", "RIFF/WebP"),
)


def supported_formats_text() -> str:
    """One line listing the supported formats, for error messages."""
    return "; ".join(f"{desc} ({', '.join(exts)})" for desc, exts in SUPPORTED_FORMATS.values())


def _extension(path: Path) -> str:
    name = path.name.lower()
    for double in (".ome.tiff", ".ome.tif"):
        if name.endswith(double):
            return double
    return path.suffix.lower()


def sniff_format(path: Path) -> str:
    """Return the format key of ``path`` (a key of :data:`SUPPORTED_FORMATS`) from its first bytes.

    Raises :class:`ImageImportError` for a missing, empty, unsupported or unrecognisable file.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except FileNotFoundError as exc:
        raise ImageImportError(f"{path.name}: file not found at {path}; check the path") from exc
    except IsADirectoryError as exc:
        raise ImageImportError(
            f"{path}: is a folder, not an image file; pass the image files inside it"
        ) from exc
    if not head:
        raise ImageImportError(
            f"{path.name}: the file is empty (0 bytes); the upload or copy did not finish, upload it again"
        )
    for magic, key in _MAGIC:
        if head.startswith(magic):
            return key
    ext = _extension(path)
    for key, (desc, exts) in SUPPORTED_FORMATS.items():
        if ext in exts:
            raise ImageImportError(
                f"{path.name}: the file is named like a {desc.split(' ')[0]} file ({ext}) but its content "
                f"is not {key.upper()} (it is corrupt, or not an image); export it again from the "
                "microscope software or Fiji (File > Save As > Tiff...)"
            )
    found = next((name for magic, name in _FOREIGN_MAGIC if head.startswith(magic)), None)
    what = f"{found} files" if found else f"'{ext or path.name}' files"
    raise ImageImportError(
        f"{path.name}: {what} are not supported. Supported formats: {supported_formats_text()}. "
        "Convert it to OME-TIFF first (Fiji: File > Save As > OME-TIFF..., or bfconvert)"
    )
