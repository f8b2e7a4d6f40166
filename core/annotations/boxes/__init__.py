"""Bounding boxes from annotation files (COCO JSON, Pascal VOC XML, YOLO txt, CSV) as neutral records.

No database access: :func:`read_boxes` gives :class:`BoxRecord`\\ s (pixels, 0-based, maximum exclusive;
YOLO's as fractions until the image is known) and one line per problem; :func:`core.box_import.import_boxes`
matches them to a project's images and stores them as ``rectangle`` shapes.

Modules: :mod:`.records` (the records, fitting a box to its image), :mod:`.formats` (COCO, VOC, CSV),
:mod:`.yolo` (YOLO and its class names), :mod:`.read` (the registry, :func:`detect_format`), :mod:`.archive`
(ZIPs).
"""

from core.annotations.boxes.read import FORMAT_TITLES, READERS, box_files, detect_format, read_boxes
from core.annotations.boxes.records import (
    FIT_CLIPPED,
    FIT_DEGENERATE,
    FIT_OK,
    FIT_OUTSIDE,
    BoxReading,
    BoxRecord,
    ImageRef,
    box_corners,
    box_text,
    fit_box,
    image_stem,
)

__all__ = [
    "FIT_CLIPPED",
    "FIT_DEGENERATE",
    "FIT_OK",
    "FIT_OUTSIDE",
    "FORMAT_TITLES",
    "READERS",
    "BoxReading",
    "BoxRecord",
    "ImageRef",
    "box_corners",
    "box_files",
    "box_text",
    "detect_format",
    "fit_box",
    "image_stem",
    "read_boxes",
]
