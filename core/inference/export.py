"""Exports of a prediction: label images, measurements CSV, GeoJSON for QuPath, and all of it as one ZIP.

Everything streams from the ``(L, H, W)`` label TIFF of :func:`core.inference.tiled.predict_image`
(region reads of 256 x 256 tiles or blocks), so exports of huge images do not load them whole.

* label images, one TIFF per label: instance ids (``<stem>_<label>_labels.tif``) for instance models, 0/255
  masks (``<stem>_<label>_mask.tif``) for semantic ones;
* ``<stem>_objects.csv``: one row per object (:mod:`core.inference.measure`), all labels together;
* ``<stem>.geojson``: a FeatureCollection, one Feature per object: geometry in image pixel coordinates
  (x = column, y = row; pixel-exact outlines, :mod:`core.inference.polygons`), properties ``objectType``
  ("detection"), ``classification`` ``{"name", "color": [r, g, b]}`` as QuPath reads it, ``label``,
  ``object_id``, ``name`` and ``measurements`` (the CSV's numbers). QuPath opens it (File > Import
  objects).
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import tifffile

from core.errors import InvalidInputError
from core.imaging.atomic import atomic_output
from core.inference.labels_io import LabelImage, open_labels
from core.inference.measure import measure_streamed
from core.inference.progress import StopCheck, check_stop
from core.training.types import training_type

TILE = 256
GEOJSON_BLOCK = 1024
MAX_WINDOW_PIXELS = 64_000_000
DEFAULT_COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def measure_prediction(
    labels_path: Path,
    image: object | None,
    *,
    pixel_size_um: float | None = None,
    should_stop: StopCheck = None,
) -> dict[str, np.ndarray]:
    """Measurements of every object of every label of a prediction, as one dict of columns.

    ``image`` is the predicted image (``(C, H, W)`` array or a reader with ``read_region``) for the intensity
    columns, or None.
    """
    with open_labels(Path(labels_path)) as labels:
        read_image, channels = _image_reader(image, labels.shape[1:])
        parts = []
        for plane, name in enumerate(labels.names):
            parts.append(
                measure_streamed(
                    lambda y, x, h, w, p=plane: labels.read(p, y, x, h, w),
                    labels.shape[1:],
                    read_image,
                    channels=channels,
                    label_name=name,
                    pixel_size_um=pixel_size_um,
                    should_stop=should_stop,
                )
            )
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def write_measurements_csv(columns: dict[str, np.ndarray], path: Path) -> Path:
    """Write the columns as CSV (one row per object, a header row first)."""
    path = Path(path)
    names = list(columns)
    n = len(next(iter(columns.values()))) if columns else 0
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for i in range(n):
            writer.writerow([_cell(columns[name][i]) for name in names])
    return path


def write_geojson(
    labels_path: Path,
    path: Path,
    measurements: dict[str, np.ndarray],
    *,
    colors: Sequence[str] | None = None,
    should_stop: StopCheck = None,
) -> int:
    """Write the objects of a prediction as a GeoJSON FeatureCollection; returns the number of features.

    ``measurements`` are those of :func:`measure_prediction` (their bounding boxes locate the objects).
    """
    path = Path(path)
    with open_labels(Path(labels_path)) as labels:
        palette = _colors(colors, len(labels.names))
        count = 0
        with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write('{"type": "FeatureCollection", "features": [\n')
            for plane, name in enumerate(labels.names):
                rows = np.flatnonzero(measurements["label"] == name)
                for feature in _features(
                    labels, plane, name, palette[plane], measurements, rows, should_stop
                ):
                    fh.write((",\n" if count else "") + json.dumps(feature, separators=(",", ":")))
                    count += 1
            fh.write("\n]}\n")
    return count


def write_label_tiffs(labels_path: Path, out_dir: Path, stem: str) -> list[Path]:
    """One single-plane tiled TIFF per label: instance ids, or 0/255 masks for semantic predictions."""
    out = []
    with open_labels(Path(labels_path)) as labels:
        kind = training_type(labels.training_type)
        semantic = not kind.object_ids
        for plane, name in enumerate(labels.names):
            suffix = kind.label_file_suffix
            path = Path(out_dir) / f"{_safe(stem)}_{_safe(name)}_{suffix}.tif"
            dtype = np.uint8 if semantic else labels.dtype
            with (
                atomic_output(path) as tmp,
                tifffile.TiffWriter(tmp, bigtiff=labels.shape[1] * labels.shape[2] * 4 > 2**31) as tw,
            ):
                tw.write(
                    _plane_tiles(labels, plane, semantic),
                    shape=labels.shape[1:],
                    dtype=dtype,
                    tile=(TILE, TILE),
                    photometric="minisblack",
                    compression="zlib",
                    compressionargs={"level": 6},
                    description=json.dumps({"label": name, "training_type": labels.training_type}),
                    metadata=None,
                )
            out.append(path)
    return out


def export_prediction(
    labels_path: Path,
    image: object | None,
    out_dir: Path,
    *,
    stem: str,
    pixel_size_um: float | None = None,
    colors: Sequence[str] | None = None,
    should_stop: StopCheck = None,
) -> dict[str, Path]:
    """Write ``<stem>_objects.csv`` and ``<stem>.geojson`` next to the labels into ``out_dir``
    (what the CLI ``segstudio predict`` writes with ``<stem>_labels.tif``). Returns ``{"csv", "geojson"}``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = measure_prediction(labels_path, image, pixel_size_um=pixel_size_um, should_stop=should_stop)
    csv_path = write_measurements_csv(columns, out_dir / f"{_safe(stem)}_objects.csv")
    geojson = out_dir / f"{_safe(stem)}.geojson"
    write_geojson(labels_path, geojson, columns, colors=colors, should_stop=should_stop)
    return {"csv": csv_path, "geojson": geojson}


def export_zip(
    labels_path: Path,
    image: object | None,
    dest: Path,
    *,
    stem: str,
    pixel_size_um: float | None = None,
    colors: Sequence[str] | None = None,
    should_stop: StopCheck = None,
) -> Path:
    """One ZIP with the label TIFF(s) per label, the measurements CSV and the GeoJSON."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=dest.parent) as tmp:
        files = export_prediction(
            labels_path,
            image,
            Path(tmp),
            stem=stem,
            pixel_size_um=pixel_size_um,
            colors=colors,
            should_stop=should_stop,
        )
        tiffs = write_label_tiffs(labels_path, Path(tmp), stem)
        with atomic_output(dest) as part, zipfile.ZipFile(part, "w") as zf:
            for path in tiffs:
                zf.write(path, path.name, compress_type=zipfile.ZIP_STORED)
            for path in files.values():
                zf.write(path, path.name, compress_type=zipfile.ZIP_DEFLATED)
    return dest


def _features(
    labels: LabelImage,
    plane: int,
    name: str,
    color: list[int],
    measurements: dict,
    rows: np.ndarray,
    should_stop: StopCheck,
) -> Iterator[dict]:
    """GeoJSON features of one label plane, reading one window per block of objects' top-left corners."""
    import shapely  # with the outlines, on use: pages import core.inference for light things

    from core.inference.polygons import mask_geometry

    numeric = [k for k in measurements if k not in ("label", "id")]
    y0s, x0s = measurements["bbox_y0"][rows], measurements["bbox_x0"][rows]
    y1s, x1s = measurements["bbox_y1"][rows], measurements["bbox_x1"][rows]
    block_of = (y0s // GEOJSON_BLOCK) * (labels.shape[2] // GEOJSON_BLOCK + 1) + x0s // GEOJSON_BLOCK
    order = np.lexsort((measurements["id"][rows], block_of))
    groups = np.split(order, np.flatnonzero(np.diff(block_of[order])) + 1) if len(order) else []
    for group in groups:
        check_stop(should_stop, "export")
        wy0, wx0, wy1, wx1 = y0s[group].min(), x0s[group].min(), y1s[group].max(), x1s[group].max()
        window = None
        if (wy1 - wy0) * (wx1 - wx0) <= MAX_WINDOW_PIXELS:
            window = labels.read(plane, int(wy0), int(wx0), int(wy1 - wy0), int(wx1 - wx0))
        for i in group:
            row = rows[i]
            obj = int(measurements["id"][row])
            by0, bx0, by1, bx1 = int(y0s[i]), int(x0s[i]), int(y1s[i]), int(x1s[i])
            if window is not None:
                crop = window[by0 - wy0 : by1 - wy0, bx0 - wx0 : bx1 - wx0]
            else:
                crop = labels.read(plane, by0, bx0, by1 - by0, bx1 - bx0)
            geometry = mask_geometry(crop == obj, origin=(by0, bx0))
            yield {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(geometry),
                "properties": {
                    "objectType": "detection",
                    "name": f"{name} {obj}",
                    "classification": {"name": name, "color": color},
                    "label": name,
                    "object_id": obj,
                    "measurements": {k: _cell(measurements[k][row]) for k in numeric},
                },
            }


def _plane_tiles(labels: LabelImage, plane: int, semantic: bool) -> Iterator[np.ndarray]:
    _, height, width = labels.shape
    for y in range(0, height, TILE):
        for x in range(0, width, TILE):
            tile = labels.read(plane, y, x, TILE, TILE)
            yield (tile > 0).astype(np.uint8) * 255 if semantic else tile


def _image_reader(image: object | None, hw: tuple[int, int]) -> tuple[Callable | None, int]:
    if image is None:
        return None, 0
    if isinstance(image, np.ndarray):
        arr = image[None] if image.ndim == 2 else image
        if arr.ndim != 3 or tuple(arr.shape[1:]) != tuple(hw):
            raise InvalidInputError(f"image of shape {image.shape} does not match the labels (H, W) = {hw}")
        return (lambda y, x, h, w: arr[:, y : y + h, x : x + w]), arr.shape[0]
    if not hasattr(image, "read_region"):
        raise InvalidInputError(
            f"cannot read intensities from a {type(image).__name__}; pass an array or an opened image"
        )
    c, h, w = image.shape
    if (h, w) != tuple(hw):
        raise InvalidInputError(
            f"the image is {w} x {h} px but the labels are {hw[1]} x {hw[0]}; pass the predicted image"
        )
    return (lambda y, x, hh, ww: image.read_region(0, y, x, hh, ww)), int(c)


def _colors(colors: Sequence[str] | None, n: int) -> list[list[int]]:
    chosen = (
        list(colors) if colors is not None else [DEFAULT_COLORS[i % len(DEFAULT_COLORS)] for i in range(n)]
    )
    if len(chosen) != n:
        raise InvalidInputError(
            f"{len(chosen)} colour(s) given for {n} label(s); give one '#rrggbb' per label"
        )
    for value in chosen:
        if not isinstance(value, str) or not _HEX.match(value):
            raise InvalidInputError(f"colour {value!r} is not '#rrggbb', e.g. '#e6194b'")
    return [[int(v[i : i + 2], 16) for i in (1, 3, 5)] for v in chosen]


def _cell(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    return value


def _safe(text: str) -> str:
    return _SAFE.sub("_", str(text)).strip("._") or "image"
