"""Import one source file into the store: a tiled pyramidal TIFF (or the whole-slide file) + a thumbnail.

Layout written in ``dest_dir``: ``<stem>.tif`` (converted images) or ``<stem><original extension>``
(whole-slide images, copied unchanged: a reflink where the file system shares blocks copy-on-write,
else a full copy, never a hard link that would follow edits of the original), and ``<stem>_thumb.png``.
Every file is written under a temporary name and renamed when complete; on any failure nothing is left behind.

Import streams: the source is read in bands of rows, the TIFF is written tile by tile, and each pyramid
level is built from the previous one in bands (levels that do not fit 64 MB spill to a temporary raw file
in ``dest_dir``). PNG and JPEG are the exception: they have no random access and are decoded whole.
Pixel types follow :mod:`core.imaging.dtypes`.
"""

from __future__ import annotations

import errno
import fcntl
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import DuplicateError, InvalidInputError
from core.imaging.atomic import atomic_output, storage_error
from core.imaging.hashing import file_sha256
from core.imaging.probe import SourceInfo, probe
from core.imaging.pyramid import LevelStore, level_shapes
from core.imaging.reader import ImageReader
from core.imaging.source import SourceBands
from core.imaging.thumbnail import thumbnail_array
from core.imaging.tiffwrite import MEMORY_LIMIT, Progress, write_pyramid_tiff

# Linux ioctl (btrfs, XFS, bcachefs, ...): the copy shares the original's blocks until either is written.
_FICLONE = getattr(fcntl, "FICLONE", 0x40049409)
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")
_BAND_BYTES = 64 << 20  # source bytes read per band when channels are interleaved
_WSI_EXTENSIONS = (
    ".ome.tiff",
    ".ome.tif",
    ".svs",
    ".ndpi",
    ".scn",
    ".bif",
    ".tiff",
    ".tif",
    ".qptiff",
    ".btf",
)


@dataclass(frozen=True)
class StoredImage:
    """What import stored; the fields the Image table records."""

    path: Path  # the stored image file
    thumb_path: Path  # PNG, longest side 256
    width: int
    height: int
    channels: int
    dtype: str  # dtype of the stored pixels, "uint8" or "uint16"
    levels: int  # pyramid levels, 1 = no pyramid
    is_wsi: bool
    is_rgb: bool
    pixel_size_um: float | None
    content_hash: str  # sha256 hex of the source file
    source_format: str
    notes: tuple[str, ...] = ()


def _check_stem(stem: str) -> None:
    if not isinstance(stem, str) or not _STEM.match(stem) or ".." in stem:
        raise InvalidInputError(
            f"stem {stem!r} is not a safe file stem; use letters, digits, '.', '_' or '-' (at most 151 "
            "characters, starting with a letter or digit, no '..'), e.g. the image id"
        )


def _wsi_extension(src: Path) -> str:
    name = src.name.lower()
    return next((ext for ext in _WSI_EXTENSIONS if name.endswith(ext)), ".tif")


def _band_rows(info: SourceInfo, chunk_rows: int) -> int:
    """Rows per source band: whole source chunks, about 64 MB of source pixels, at least one chunk."""
    row_bytes = info.width * info.channels * np.dtype(info.dtype).itemsize
    rows = max(1, _BAND_BYTES // row_bytes)
    rows = max(chunk_rows, rows // chunk_rows * chunk_rows)
    return rows + rows % 2


def _store_pyramid(
    info: SourceInfo, target: Path, spill_dir: Path, progress: Progress | None
) -> tuple[int, tuple]:
    """Write the tiled pyramidal TIFF of ``info`` to ``target``; return (levels, conversion notes)."""
    shapes = level_shapes(info.height, info.width)
    with SourceBands(info) as source:
        conversion = info.conversion
        if conversion.needs_range:
            conversion = conversion.with_range(*source.scan_range(_band_rows(info, source.chunk_rows)))
            source.conversion = conversion
        notes = (conversion.note(),) if conversion.note() else ()
        dtype = np.dtype(conversion.target_dtype)
        level0: LevelStore | None = None
        try:
            with atomic_output(target) as tmp:
                if info.channels == 1 or source.planar:

                    def read_level0(c: int, y0: int, y1: int) -> np.ndarray:
                        return source.read(y0, y1, None if info.channels == 1 else c)[0]
                else:
                    # Interleaved channels (RGB, YXS, PNG/JPEG): one pass puts them in planar order first.
                    level0 = LevelStore(
                        (info.channels, info.height, info.width),
                        dtype,
                        spill_dir=spill_dir,
                        memory_limit=MEMORY_LIMIT,
                    )
                    for y0, band in source.bands(_band_rows(info, source.chunk_rows)):
                        for c in range(info.channels):
                            level0.write_rows(c, y0, band[c])
                    read_level0 = level0.read_rows
                write_pyramid_tiff(
                    tmp,
                    read_level0,
                    channels=info.channels,
                    dtype=dtype,
                    shapes=shapes,
                    is_rgb=info.is_rgb,
                    pixel_size_um=info.pixel_size_um,
                    spill_dir=spill_dir,
                    progress=progress,
                )
        finally:
            if level0 is not None:
                level0.close()
    return len(shapes), notes


def _reflink(src: Path, tmp: Path) -> bool:
    """Clone ``src`` into a new ``tmp`` (FICLONE); False, with ``tmp`` removed, where not supported."""
    with open(src, "rb") as source, open(tmp, "wb") as clone:
        try:
            fcntl.ioctl(clone.fileno(), _FICLONE, source.fileno())
            return True
        except OSError as exc:  # not supported here (EOPNOTSUPP, EXDEV, ...): copy instead
            if exc.errno in _DISK_FULL:
                raise
    tmp.unlink()
    return False


def _store_wsi(src: Path, target: Path) -> None:
    """Store an independent copy of ``src`` as ``target`` (a reflink where possible), atomically.

    Never a hard link: the stored image must not change when the user edits or replaces the original.
    """
    with atomic_output(target) as tmp:
        if not _reflink(src, tmp):
            shutil.copyfile(src, tmp)  # copy_file_range/sendfile: the kernel copies, no Python loop


def _write_thumbnail(image_path: Path, thumb_path: Path, *, is_rgb: bool) -> None:
    with ImageReader(image_path) as reader:
        picture = thumbnail_array(reader, is_rgb=is_rgb)
    with atomic_output(thumb_path) as tmp:
        Image.fromarray(picture).save(tmp, format="PNG")


def import_image(
    src: str | Path,
    dest_dir: str | Path,
    stem: str,
    *,
    max_megapixels: float = 625.0,
    max_channels: int = 10,
    max_wsi_megapixels: float = 40_000.0,
    pages_as: str | None = None,
    progress: Progress | None = None,
    content_hash: str | None = None,
) -> StoredImage:
    """Import ``src`` into ``dest_dir`` as ``<stem>.tif`` (or the whole-slide file) + ``<stem>_thumb.png``.

    ``progress``, when given, is called with the fraction (0..1) of pixels written. Raises
    :class:`ImageImportError` for bad input (see :func:`probe`), :class:`StorageError` when writing fails
    ("The disk is full ..." for ENOSPC), :class:`DuplicateError` when the target files exist; on any error
    no file of this import remains in ``dest_dir``. A multi-page TIFF that does not say what its pages are
    raises :class:`PagesUnknownError` unless ``pages_as="channels"`` confirms they are channels.
    """
    src, dest_dir = Path(src), Path(dest_dir)
    _check_stem(stem)
    info = probe(
        src,
        max_megapixels=max_megapixels,
        max_channels=max_channels,
        max_wsi_megapixels=max_wsi_megapixels,
        pages_as=pages_as,
    )
    content_hash = content_hash or file_sha256(src)  # callers that checked for duplicates hashed it already
    target = dest_dir / (f"{stem}{_wsi_extension(src)}" if info.is_wsi else f"{stem}.tif")
    thumb_path = dest_dir / f"{stem}_thumb.png"
    for existing in (target, thumb_path):
        if existing.exists():
            raise DuplicateError(
                f"{existing} exists already; import under another stem or delete the old image first"
            )
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(dest_dir, exc) from exc
    spill_dir = dest_dir / f".{stem}.{uuid.uuid4().hex[:12]}.levels"
    notes = info.notes
    try:
        if info.is_wsi:
            _store_wsi(src, target)
            levels = info.levels
        else:
            levels, conversion_notes = _store_pyramid(info, target, spill_dir, progress)
            notes = notes + conversion_notes
        _write_thumbnail(target, thumb_path, is_rgb=info.is_rgb)
    except BaseException:
        target.unlink(missing_ok=True)
        thumb_path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)
    return StoredImage(
        path=target,
        thumb_path=thumb_path,
        width=info.width,
        height=info.height,
        channels=info.channels,
        dtype=info.stored_dtype,
        levels=levels,
        is_wsi=info.is_wsi,
        is_rgb=info.is_rgb,
        pixel_size_um=info.pixel_size_um,
        content_hash=content_hash,
        source_format=info.source_format,
        notes=notes,
    )
