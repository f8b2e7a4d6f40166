"""Proposals for one region of an image: the annotate page's view.

* :func:`propose`: features of the view, a forest fitted on the strokes inside it, the view's proposal; one
  call per "update proposal" (about 2 s for 1024 x 768 on 2 cores).
* :func:`predict_region`: a saved forest's proposal for a region of a stored image, read with enough context
  that it equals the same region of :func:`core.assist.tiled.predict_image`.
* :func:`stroke_regions`: features and stroke maps of the tiles of an image that hold strokes, to fit one
  forest on strokes from many views or images (:meth:`ScribbleForest.fit_regions`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.assist import context as ctx
from core.assist.features import ChannelScale, FeatureSpec, check_pixels, pixel_features
from core.assist.forest import MAX_SAMPLES_PER_CLASS, ScribbleForest
from core.assist.proposal import Proposal
from core.assist.strokes import Region, Stroke, check_region, stroke_map, strokes_bbox
from core.errors import InvalidInputError
from core.imaging.reader import ImageReader


def propose(
    pixels: np.ndarray,
    scale: ChannelScale,
    strokes: Sequence[Stroke],
    label_ids: Sequence[int],
    *,
    spec: FeatureSpec = FeatureSpec(),
    seed: int = 0,
    region: Region | None = None,
    context: bool = True,
    extra_regions: Sequence[tuple[np.ndarray, np.ndarray]] = (),
) -> tuple[ScribbleForest, Proposal]:
    """Fit a forest on the strokes inside a region and propose classes for the whole region.

    ``pixels`` (C, h, w) are the region's full-resolution pixels; ``region`` = ``(y, x, h, w)`` places them
    in the image (default: the image itself, at 0, 0), strokes are in image pixels. ``scale`` is the image's
    :func:`~core.assist.scale.channel_scale`. The proposal's ``classes`` are not cleaned yet: show and accept
    ``clean_classes(proposal.classes)``.

    ``extra_regions``: more training data, ``(features, stroke_map)`` pairs of strokes outside this region
    (e.g. :func:`stroke_regions` of other images, or of this image with the view's strokes left out). The
    region's own features are computed once and serve both fitting and prediction, which makes this about
    twice as fast as fitting on :func:`stroke_regions` and then calling :func:`predict_region`; the price is
    that the region's edges are treated as image borders (a band of about ``forest.halo`` pixels along them
    can differ slightly from a whole-image prediction).
    """
    arr = check_pixels(pixels)
    if region is None:
        region = (0, 0, arr.shape[1], arr.shape[2])
    region = check_region(region)
    if region[2:] != arr.shape[1:]:
        raise InvalidInputError(
            f"pixels are {arr.shape[2]} x {arr.shape[1]} but region {region} is {region[3]} x {region[2]}; "
            "pass the pixels of exactly that region (reader.read_region(0, *region))"
        )
    features = pixel_features(arr, scale, spec)
    smap = stroke_map(strokes, region)
    forest, last = ScribbleForest._fit_regions(
        [(features, smap), *extra_regions], label_ids=label_ids, spec=spec, channels=arr.shape[0], seed=seed,
        max_samples_per_class=MAX_SAMPLES_PER_CLASS, context=context,
    )
    probs = forest._stage_probabilities(len(forest.stages) - 1, last[0])
    return forest, Proposal.from_probabilities(forest._finish(probs, ctx.ALL_SIDES), forest.label_ids)


def read_with_halo(
    reader: ImageReader, region: Region, halo: int
) -> tuple[np.ndarray, ctx.Sides, tuple[int, int]]:
    """Full-resolution pixels of ``region`` plus up to ``halo`` pixels around it (clipped to the image).

    Returns the pixels, which of their sides lie on the image border (top, bottom, left, right) and the
    image position ``(y0, x0)`` of their top-left pixel.
    """
    y, x, h, w = check_region(region)
    _, height, width = reader.shape
    if y < 0 or x < 0 or y + h > height or x + w > width:
        raise InvalidInputError(
            f"region {region} reaches outside the image ({width} x {height} px); clip it to the image"
        )
    y0, x0 = max(y - halo, 0), max(x - halo, 0)
    y1, x1 = min(y + h + halo, height), min(x + w + halo, width)
    pixels = reader.read_region(0, y0, x0, y1 - y0, x1 - x0)
    return pixels, (y0 == 0, y1 == height, x0 == 0, x1 == width), (y0, x0)


def check_channels(reader: ImageReader, forest: ScribbleForest) -> None:
    if reader.shape[0] != forest.channels:
        raise InvalidInputError(
            f"the image has {reader.shape[0]} channel(s) but the assistant was trained on images with "
            f"{forest.channels}; brush strokes on this image to train an assistant for it"
        )


def region_probabilities(
    reader: ImageReader, forest: ScribbleForest, region: Region, scale: ChannelScale
) -> np.ndarray:
    """Smoothed class probabilities (K, h, w) of ``region``, equal to those of the whole image there."""
    y, x, h, w = check_region(region)
    check_channels(reader, forest)
    halo = forest.halo
    pixels, sides, (y0, x0) = read_with_halo(reader, (y, x, h, w), halo)
    probs = forest.predict_probabilities(pixel_features(pixels, scale, forest.spec), at_border=sides)
    top = y - (y0 if sides[0] else y0 + halo)  # the result starts halo inside the window, or at the border
    left = x - (x0 if sides[2] else x0 + halo)
    return probs[:, top : top + h, left : left + w]


def predict_region(
    reader: ImageReader, forest: ScribbleForest, region: Region, *, scale: ChannelScale
) -> Proposal:
    """A saved forest's proposal for ``region`` of a stored image (not cleaned)."""
    return Proposal.from_probabilities(region_probabilities(reader, forest, region, scale), forest.label_ids)


def stroke_regions(
    reader: ImageReader,
    strokes: Sequence[Stroke],
    scale: ChannelScale,
    spec: FeatureSpec = FeatureSpec(),
    *,
    tile: int = 1024,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(features, stroke_map)`` of each tile of the image's grid that holds stroked pixels.

    Features are read with ``spec.halo`` of context, so they equal the whole image's; feed the list (of one
    or several images) to :meth:`ScribbleForest.fit_regions`.
    """
    box = strokes_bbox(strokes)
    if box is None:
        return []
    _, height, width = reader.shape
    bx0, by0, bx1, by1 = box
    out = []
    for ty in range(max(int(by0) // tile, 0), min(math.ceil(by1 / tile), math.ceil(height / tile))):
        for tx in range(max(int(bx0) // tile, 0), min(math.ceil(bx1 / tile), math.ceil(width / tile))):
            y, x = ty * tile, tx * tile
            region = (y, x, min(tile, height - y), min(tile, width - x))
            smap = stroke_map(strokes, region)
            if not smap.any():
                continue
            pixels, _, (y0, x0) = read_with_halo(reader, region, spec.halo)
            feats = pixel_features(pixels, scale, spec)  # exact at >= spec.halo from the window's inner sides
            top, left = y - y0, x - x0
            out.append((feats[top : top + region[2], left : left + region[3]], smap))
    return out
