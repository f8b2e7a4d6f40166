"""Pre-annotating a whole image at full resolution with a fitted forest (the background job's work).

The image is cut into ``tile`` x ``tile`` blocks; each is read with ``forest.halo`` pixels of context, so the
class map equals what the forest gives on the whole image at once (features, context and smoothing are all
local). The stitched map is then cleaned window by window (:func:`core.assist.clean.clean_tiled`), which
equals cleaning it whole. Memory: two (H, W) uint8 maps plus one tile's features (~0.3 GB at tile 1024).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.assist.clean import MIN_SIZE, clean_tiled
from core.assist.features import ChannelScale
from core.assist.forest import ScribbleForest
from core.assist.scale import channel_scale
from core.assist.view import check_channels, region_probabilities
from core.errors import InvalidInputError
from core.imaging.reader import ImageReader


def predict_image(
    reader: ImageReader,
    forest: ScribbleForest,
    *,
    tile: int = 1024,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_megapixels: float = 100.0,
    scale: ChannelScale | None = None,
    min_size: int = MIN_SIZE,
) -> np.ndarray:
    """Cleaned class map uint8 (H, W) of the whole image (0 = background, k = ``forest.label_ids[k - 1]``).

    ``scale`` defaults to the image's :func:`channel_scale` (what the annotate page uses for its views).
    ``progress(fraction)`` is called after every tile; when ``should_stop()`` returns True the work stops
    with :class:`InterruptedError`.
    """
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 64:
        raise InvalidInputError(
            f"tile must be a whole number of pixels >= 64, got {tile!r}; 1024 is a good size"
        )
    check_channels(reader, forest)
    _, height, width = reader.shape
    megapixels = height * width / 1e6
    if megapixels > max_megapixels:
        raise InvalidInputError(
            f"the image is {width} x {height} px ({megapixels:.0f} megapixels), more than the assistant "
            f"pre-annotates in one go ({max_megapixels:g} megapixels); use the proposal of single views on "
            "the annotate page instead, or train a U-Net on a few accepted views and predict the image "
            "with it"
        )
    if scale is None:
        scale = channel_scale(reader)
    raw = np.empty((height, width), dtype=np.uint8)
    blocks = [(y, x) for y in range(0, height, tile) for x in range(0, width, tile)]
    for done, (y, x) in enumerate(blocks):
        if should_stop is not None and should_stop():
            raise InterruptedError("pre-annotation was stopped")
        h, w = min(tile, height - y), min(tile, width - x)
        probs = region_probabilities(reader, forest, (y, x, h, w), scale)
        raw[y : y + h, x : x + w] = np.argmax(probs, axis=0)
        if progress is not None:
            progress(0.95 * (done + 1) / len(blocks))
    out = clean_tiled(raw, min_size=min_size, should_stop=should_stop)
    if progress is not None:
        progress(1.0)
    return out
