"""Boxes as annotation files give them, before they meet a project: one neutral record per box.

Coordinates are pixels of the full-resolution image, 0-based, with the maximum exclusive: a box
``x_min=2, x_max=5`` covers the pixel columns 2, 3 and 4 (the same frame as :mod:`core.annotations.shapes`,
where pixel ``(r, c)`` covers ``[c, c + 1] x [r, r + 1]``). A YOLO box is a fraction of the image's width and
height (``normalized``) until its image is known (:meth:`BoxRecord.in_pixels`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# the image suffixes that end a file name (so "a.v2" is a stem, "a.png" a file name)
IMAGE_SUFFIXES = (
    ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp",
    ".svs", ".ndpi", ".scn", ".bif", ".btf", ".qptiff", ".czi", ".nd2", ".lif",
)
MIN_SIDE = 1.0  # a box less than 1 px wide or high is degenerate

FIT_OK, FIT_CLIPPED, FIT_OUTSIDE, FIT_DEGENERATE = "ok", "clipped", "outside", "degenerate"


def image_stem(name: str) -> str:
    """The file stem of an image name (``a.ome.tif`` -> ``a``); a name without an image suffix is a stem."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    lowered = base.lower()
    for suffix in (".ome.tiff", ".ome.tif"):
        if lowered.endswith(suffix):
            return base[: -len(suffix)]
    suffix = Path(base).suffix
    return base[: -len(suffix)] if suffix and suffix.lower() in IMAGE_SUFFIXES else base


@dataclass(frozen=True)
class ImageRef:
    """The image a box file speaks of: ``name`` its file name as the file writes it (``""`` when the format
    names none, as YOLO and per-image CSV files do), ``stem`` its file stem (for those formats: the box
    file's own stem), ``size`` the ``(width, height)`` the file states (None when it states none), ``file``
    the box file (as shown in messages)."""

    file: str
    name: str
    stem: str
    size: tuple[int, int] | None = None

    @property
    def shown(self) -> str:
        return self.name or self.stem


@dataclass(frozen=True)
class BoxRecord:
    """One box: ``where`` names the file and the entry for messages (``boxes.csv line 4``)."""

    image: ImageRef
    where: str
    label: str
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    normalized: bool = False  # YOLO: fractions of the image's width and height

    def in_pixels(self, width: int, height: int) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` in pixels of an image of ``width`` x ``height`` (fractions scaled
        and rounded to 1e-6 px, so that 0.85 x 40 is 34, not 33.999999999999996)."""
        if not self.normalized:
            return self.x_min, self.y_min, self.x_max, self.y_max
        return (round(self.x_min * width, 6), round(self.y_min * height, 6),
                round(self.x_max * width, 6), round(self.y_max * height, 6))


@dataclass
class BoxReading:
    """What reading box files gave: the boxes, the images they list with no box at all (``empty``), one line
    per problem (the rest of the batch is kept), notes (how a file was understood) and the files read."""

    records: list[BoxRecord] = field(default_factory=list)
    empty: list[ImageRef] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def extend(self, other: BoxReading) -> None:
        self.records += other.records
        self.empty += other.empty
        self.problems += [p for p in other.problems if p not in self.problems]  # a class file's, once
        self.notes += [n for n in other.notes if n not in self.notes]
        self.files += other.files


def box_text(box: tuple[float, float, float, float]) -> str:
    """``x 10–20, y 5–9`` (pixels, maximum exclusive)."""
    x0, y0, x1, y1 = box
    return f"x {x0:g}–{x1:g}, y {y0:g}–{y1:g}"


def fit_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[str, tuple[float, ...]]:
    """Fit a box ``(x_min, y_min, x_max, y_max)`` to an image of ``width`` x ``height`` pixels.

    Returns ``(what, box)``: ``"degenerate"`` (less than 1 px wide or high), ``"outside"`` (less than 1 px of
    it inside the image), ``"clipped"`` (the part inside the image) or ``"ok"`` (the box as it is).
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return FIT_DEGENERATE, (x0, y0, x1, y1)
    if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
        return FIT_DEGENERATE, (x0, y0, x1, y1)
    cx0, cy0, cx1, cy1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height))
    if cx1 - cx0 < MIN_SIDE or cy1 - cy0 < MIN_SIDE:
        return FIT_OUTSIDE, (x0, y0, x1, y1)
    if (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1):
        return FIT_CLIPPED, (cx0, cy0, cx1, cy1)
    return FIT_OK, (x0, y0, x1, y1)


def box_corners(box: tuple[float, ...]) -> np.ndarray:
    """The 4 corners (4, 2) of a box as a ``rectangle`` shape stores them: top-left, top-right, bottom-right,
    bottom-left, as ``[x, y]``."""
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
