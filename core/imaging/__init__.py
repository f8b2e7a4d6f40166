"""Image import, storage and lazy region reads (no database access; arrays and files only).

Public API: :func:`probe`, :func:`import_image` -> :class:`StoredImage`, :func:`open_image` /
:class:`ImageReader`, :func:`read_region`, :func:`read_array`, :func:`file_sha256`,
:func:`sanitize_filename`, :func:`auto_contrast`, :func:`compose_rgb`,
:func:`remove_stale_partials`.
The pixel-type rule is documented in :mod:`core.imaging.dtypes`, the clipping rule of region reads in
:mod:`core.imaging.reader`, the store layout in :mod:`core.imaging.importer`.
"""

from core.imaging.atomic import remove_stale_partials
from core.imaging.display import DEFAULT_CHANNEL_COLORS, auto_contrast, compose_rgb
from core.imaging.filenames import sanitize_filename
from core.imaging.formats import SUPPORTED_FORMATS, supported_formats_text
from core.imaging.hashing import file_sha256
from core.imaging.importer import StoredImage, import_image
from core.imaging.probe import SourceInfo, probe
from core.imaging.pyramid import level_shapes
from core.imaging.reader import ImageReader, open_image, read_array, read_region

__all__ = [
    "DEFAULT_CHANNEL_COLORS",
    "SUPPORTED_FORMATS",
    "ImageReader",
    "SourceInfo",
    "StoredImage",
    "auto_contrast",
    "compose_rgb",
    "file_sha256",
    "import_image",
    "level_shapes",
    "open_image",
    "probe",
    "read_array",
    "read_region",
    "remove_stale_partials",
    "sanitize_filename",
    "supported_formats_text",
]
