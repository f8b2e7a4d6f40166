"""Tiled prediction of an image of any size, streaming: region reads in, a tiled label TIFF out.

:func:`predict_image` walks the blocks of a :class:`~core.inference.grid.Grid` in raster order:

1. the network tiles of map block ``M(r, c)`` are read (one region read), normalised with the model card's
   record resolved once for the whole image (scope "image": the image's own percentiles, sampled as training
   samples them, with the card's stretch floor for nearly empty images; see
   :mod:`core.training.normalization`; :attr:`PredictionResult.warnings` says when the floor applied, and
   when the image's bit depth is not the training images' and its own percentiles scaled it),
   reflect-padded at the bottom/right image edge to a multiple of 32 (as a whole-image pass pads), run
   through the :class:`~core.inference.predictor.Predictor` in batches, and each tile keeps its core (the
   ``halo`` around it is context only: keep-the-centre blending, see :mod:`core.inference.receptive`);
2. the maps of context region ``E(r, c)`` are assembled from ``M(r, c)`` and the strips kept from its left
   and upper neighbours, post-processed with the card's values, and stitched (:mod:`core.inference.stitch`);
3. at the end, objects get their final ids (1..N per label in raster order of their first pixel; objects
   smaller than ``min_size`` dropped) and the labels are written tile by tile.

Memory holds a few blocks and two strips of ``2 * context`` rows of maps, whatever the image height;
provisional labels wait on disk as compressed chunks. The output is one ``(L, H, W)`` tiled TIFF (one
plane per label: instance ids for instance models, connected-component ids for semantic ones, 0 =
background), uint16 or uint32 as the object count needs.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile

from core.errors import InvalidInputError, StorageError
from core.imaging.atomic import atomic_output
from core.inference.fit import check_image_fits, check_not_empty
from core.inference.grid import Grid, Tile
from core.inference.labelstore import ChunkStore
from core.inference.predictor import Predictor
from core.inference.progress import check_stop
from core.inference.stitch import Stitcher, segment
from core.training.normalization import depth_warning, floor_warning

OUTPUT_TILE = 256
MAX_IN_MEMORY_PIXELS = 64_000_000
MIN_CONTEXT = 32
Maps = dict[str, np.ndarray]


@dataclass
class PredictionResult:
    """What a prediction produced. ``labels`` ``(L, H, W)`` when no ``out`` path was given, else ``path``."""

    shape: tuple[int, int]
    training_type: str
    label_names: list[str]
    label_ids: list
    counts: list[int]
    path: Path | None = None
    labels: np.ndarray | None = None
    tiles: int = 0
    seconds: float = 0.0
    tile: int = 0
    halo: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def counts_by_label(self) -> dict[str, int]:
        return dict(zip(self.label_names, self.counts, strict=True))


class _Source:
    """``(C, H, W)`` pixels from an array or a reader (``shape``, ``dtype``, ``read_region``)."""

    def __init__(self, source: object) -> None:
        if isinstance(source, np.ndarray):
            arr = source[None] if source.ndim == 2 else source
            if arr.ndim != 3:
                raise InvalidInputError(f"image has shape {source.shape}; expected (H, W) or (C, H, W)")
            self._array = arr
            self.shape = tuple(int(v) for v in arr.shape)
            self.dtype = arr.dtype
            self.original = arr
        elif hasattr(source, "read_region") and hasattr(source, "shape"):
            self._array = None
            self._reader = source
            self.shape = tuple(int(v) for v in source.shape)
            self.dtype = np.dtype(source.dtype)
            self.original = source
        else:
            raise InvalidInputError(
                f"cannot predict on a {type(source).__name__}; pass a (C, H, W) array or an opened image "
                "(core.imaging.open_image)"
            )

    def read(self, y: Tuple2, x: Tuple2) -> np.ndarray:
        if self._array is not None:
            return self._array[:, y[0] : y[1], x[0] : x[1]]
        return self._reader.read_region(0, y[0], x[0], y[1] - y[0], x[1] - x[0])

    def read_window(self, y: int, x: int, h: int, w: int) -> np.ndarray:
        """The ``(C, h, w)`` region at (y, x) (the reading that normalisation's sampling uses)."""
        return np.asarray(self.read((y, y + h), (x, x + w)))


Tuple2 = tuple[int, int]


def predict_image(
    source: object,
    predictor: Predictor,
    *,
    tile: int | None = None,
    halo: int | None = None,
    block: int = 1024,
    context: int = 64,
    out: Path | None = None,
    on_progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PredictionResult:
    """Predict ``source`` (``(C, H, W)`` / ``(H, W)`` array or a reader) with ``predictor``.

    Args:
        tile: core size of a network tile in pixels (multiple of 32); the network sees ``tile + 2 * halo``;
            None = the predictor's (:attr:`~core.inference.predictor.Predictor.tile`: 512, or what a model
            with a fixed input size allows).
        halo: context around each tile core (multiple of 32); None = the encoder's default
            (:func:`core.inference.receptive.default_halo`).
        block: owned post-processing block (a multiple of ``tile``; a multiple of 256 gives 256-pixel output
            TIFF tiles, other sizes make the output tiles one block wide).
        context: context around each block for post-processing and stitching (multiple of 32,
            at most ``block / 2``); objects reaching up to this far across a block border are seen whole.
        out: path of the ``(L, H, W)`` label TIFF to write; None keeps the labels in memory (images up to
            :data:`MAX_IN_MEMORY_PIXELS` pixels per label).
        on_progress: called with the fraction done (0..1) after each block.
        should_stop: polled before each block; True stops with :class:`PredictionCancelled`.
    """
    src = _Source(source)
    halo = predictor.halo if halo is None else halo
    tile = predictor.tile if tile is None else tile
    grid = _check_args(src, predictor, tile, halo, block, context, out)
    check_not_empty(src.original)
    start = time.perf_counter()
    record = predictor.image_normalization(src.shape, src.read_window)  # one record for the whole image
    work_dir = _output_folder(out)
    with tempfile.TemporaryDirectory(prefix=".predict-", dir=work_dir) as tmp:
        stores = [
            ChunkStore(Path(tmp) / f"labels{i}.bin", (grid.height, grid.width), _out_tile(block))
            for i in range(predictor.n_labels)
        ]
        try:
            stitchers = [Stitcher(grid, s, semantic=not predictor.kind.object_ids) for s in stores]
            n_tiles = _run_blocks(src, predictor, record, grid, stitchers, on_progress, should_stop)
            finals = [
                st.objects.final_ids(v["min_size"])
                for st, v in zip(stitchers, predictor.postprocess, strict=True)
            ]
            counts = [n for _, n in finals]
            dtype = np.uint16 if max(counts, default=0) < 2**16 else np.uint32
            result = PredictionResult(
                shape=(grid.height, grid.width),
                training_type=predictor.training_type,
                label_names=[str(lab["name"]) for lab in predictor.labels],
                label_ids=[lab.get("id") for lab in predictor.labels],
                counts=counts,
                tiles=n_tiles,
                tile=tile,
                halo=halo,
                warnings=[w for w in (depth_warning(record), floor_warning(record)) if w],
            )
            luts = [lut.astype(dtype) for lut, _ in finals]
            if out is None:
                result.labels = np.stack([lut[s.read_all()] for s, lut in zip(stores, luts, strict=True)])
            else:
                result.path = _write_tiff(Path(out), stores, luts, dtype, result, _out_tile(block))
        finally:
            for s in stores:
                s.close()
    result.seconds = time.perf_counter() - start
    if on_progress is not None:
        on_progress(1.0)
    return result


def _run_blocks(src, predictor, record, grid, stitchers, on_progress, should_stop) -> int:
    """Visit every block in raster order, normalised with the image's ``record``; returns the number of
    network tiles run."""
    k2 = 2 * grid.context
    above: dict[int, tuple[int, int, Maps]] = {}  # c -> (y0, x0, maps) bottom strip of M(r-1, c)
    n_tiles = 0
    total = grid.rows * grid.cols
    for r in range(grid.rows):
        below: dict[int, tuple[int, int, Maps]] = {}
        left: tuple[int, int, Maps] | None = None
        for c in range(grid.cols):
            check_stop(should_stop, "prediction")
            tiles = grid.tiles(r, c)
            (my0, my1), (mx0, mx1) = grid.map_block(r, c)
            current = (my0, mx0, _predict_block(src, predictor, record, grid, tiles)) if tiles else None
            n_tiles += len(tiles)
            pieces = [p for p in (above.get(c - 1), above.get(c), left, current) if p is not None]
            region = grid.context_region(r, c)
            maps = _assemble(region, pieces, predictor)
            for i, stitcher in enumerate(stitchers):
                stitcher.add_block(r, c, segment(maps, i, predictor.training_type, predictor.postprocess[i]))
            if current is not None:
                cm = current[2]
                left = (my0, max(mx1 - k2, mx0), {k: v[:, :, -k2:].copy() for k, v in cm.items()})
                below[c] = (max(my1 - k2, my0), mx0, {k: v[:, -k2:, :].copy() for k, v in cm.items()})
            if on_progress is not None:
                on_progress(0.97 * (r * grid.cols + c + 1) / total)
        above = below
    return n_tiles


def _predict_block(
    src: _Source, predictor: Predictor, record: dict, grid: Grid, tiles: list[Tile]
) -> Maps:
    """Maps ``{name: (L, h, w)}`` of the map block whose cores the ``tiles`` partition (pixels normalised
    with ``record``, the card's normalisation resolved for the whole image)."""
    y0, x0 = tiles[0].core_y[0], tiles[0].core_x[0]
    h, w = tiles[-1].core_y[1] - y0, tiles[-1].core_x[1] - x0
    out: Maps = {}
    for t, maps in tile_maps(src, predictor, record, grid, tiles):
        (cy0, cy1), (cx0, cx1) = t.core_y, t.core_x
        oy, ox = cy0 - t.window_y[0], cx0 - t.window_x[0]
        for name, value in maps.items():
            if name not in out:
                out[name] = np.empty((value.shape[0], h, w), dtype=np.float32)
            out[name][:, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = value[
                :, oy : oy + cy1 - cy0, ox : ox + cx1 - cx0
            ]
    return out


def tile_maps(
    src: _Source, predictor: Predictor, record: dict, grid: Grid, tiles: list[Tile]
) -> Iterator[tuple[Tile, Maps]]:
    """Each of ``tiles`` (the tiles of one map block) with the maps ``{name: (L, h, w)}`` of its whole
    window (core and halo; past the image's bottom/right edge the window holds reflect-padding). The
    block's pixels are read once and normalised with ``record``; the tiles go through the network in
    batches of ``predictor.batch_size``."""
    wy0 = min(t.window_y[0] for t in tiles)
    wy1 = max(t.window_y[1] for t in tiles)
    wx0 = min(t.window_x[0] for t in tiles)
    wx1 = max(t.window_x[1] for t in tiles)
    raw = src.read((wy0, min(wy1, grid.height)), (wx0, min(wx1, grid.width)))
    norm = _pad(predictor.normalize(np.asarray(raw), record), wy1 - wy0, wx1 - wx0)
    for i in range(0, len(tiles), predictor.batch_size):
        chunk = tiles[i : i + predictor.batch_size]
        batch = np.stack(
            [
                norm[:, t.window_y[0] - wy0 : t.window_y[1] - wy0, t.window_x[0] - wx0 : t.window_x[1] - wx0]
                for t in chunk
            ]
        )
        maps = predictor.forward(batch)
        for j, t in enumerate(chunk):
            yield t, {name: value[j] for name, value in maps.items()}


def _pad(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Reflect-pad ``(C, h', w')`` at the bottom/right to ``(C, h, w)`` (edge mode for 1-pixel images)."""
    dh, dw = h - x.shape[1], w - x.shape[2]
    if dh == 0 and dw == 0:
        return x
    mode = "reflect" if min(x.shape[1:]) > 1 else "edge"
    return np.pad(x, ((0, 0), (0, dh), (0, dw)), mode=mode)


def _assemble(
    region: tuple[Tuple2, Tuple2], pieces: list[tuple[int, int, Maps]], predictor: Predictor
) -> Maps:
    """Maps of ``region`` pasted together from map pieces ``(y0, x0, {name: (L, h, w)})`` that cover it."""
    (ry0, ry1), (rx0, rx1) = region
    out = {
        name: np.zeros((predictor.n_labels, ry1 - ry0, rx1 - rx0), dtype=np.float32)
        for name in predictor.map_names
    }
    for py0, px0, maps in pieces:
        any_map = next(iter(maps.values()))
        py1, px1 = py0 + any_map.shape[1], px0 + any_map.shape[2]
        y0, y1, x0, x1 = max(ry0, py0), min(ry1, py1), max(rx0, px0), min(rx1, px1)
        if y0 >= y1 or x0 >= x1:
            continue
        for name, value in maps.items():
            out[name][:, y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0] = value[
                :, y0 - py0 : y1 - py0, x0 - px0 : x1 - px0
            ]
    return out


def _output_folder(out: Path | None) -> Path | None:
    """The folder of ``out`` (created), where temporary labels are kept too; None without ``out``."""
    if out is None:
        return None
    folder = Path(out).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create the output folder {folder}: {exc}; choose a writable folder"
        ) from exc
    return folder


def _out_tile(block: int) -> int:
    """The output TIFF tile: 256 pixels, or the whole block when blocks are smaller or not a multiple."""
    return OUTPUT_TILE if block % OUTPUT_TILE == 0 else block


def _write_tiff(
    path: Path,
    stores: list[ChunkStore],
    luts: list[np.ndarray],
    dtype: type,
    result: PredictionResult,
    tile: int,
) -> Path:
    height, width = result.shape
    description = json.dumps(
        {
            "segstudio": "prediction",
            "training_type": result.training_type,
            "labels": result.label_names,
            "label_ids": result.label_ids,
            "counts": result.counts,
        }
    )

    def tiles() -> Iterator[np.ndarray]:
        for store, lut in zip(stores, luts, strict=True):
            for _, _, chunk in store.chunks():
                yield lut[chunk]

    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        atomic_output(path) as tmp,
        tifffile.TiffWriter(tmp, bigtiff=len(stores) * height * width * 4 > 2**31) as writer,
    ):
        writer.write(
            tiles(),
            shape=(len(stores), height, width) if len(stores) > 1 else (height, width),
            dtype=dtype,
            tile=(tile, tile),
            photometric="minisblack",
            planarconfig="separate" if len(stores) > 1 else None,
            compression="zlib",
            compressionargs={"level": 1},
            description=description,
            metadata=None,
        )
    return path


def _check_args(
    src: _Source, predictor: Predictor, tile: int, halo: int, block: int, context: int, out
) -> Grid:
    grid = check_grid(src, predictor, tile, halo, block, context)
    if out is None and grid.height * grid.width > MAX_IN_MEMORY_PIXELS:
        raise InvalidInputError(
            f"the image is {grid.width} x {grid.height} px, too large to keep the labels in memory; "
            "pass out=<path of a .tif>"
        )
    return grid


def check_grid(src: _Source, predictor: Predictor, tile: int, halo: int, block: int, context: int) -> Grid:
    """The grid of ``src`` after checking that the image fits the model and the tiling values are valid."""
    c, h, w = src.shape
    check_image_fits(predictor.card, c, src.dtype)
    for name, value, minimum in (("tile", tile, 32), ("halo", halo, 0), ("context", context, MIN_CONTEXT)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum or value % 32:
            raise InvalidInputError(
                f"{name}={value!r} must be a multiple of 32 and at least {minimum}, e.g. 64"
            )
    if isinstance(block, bool) or not isinstance(block, int) or block % tile or block < 2 * context:
        raise InvalidInputError(
            f"block={block!r} must be a multiple of tile={tile} and at least 2 * context={2 * context}; "
            "e.g. 1024"
        )
    return Grid(h, w, tile, halo, block, context)
