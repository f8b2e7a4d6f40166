"""Per-image intensity scale: the 1st and 99.8th percentile of each channel.

One scale serves every region of an image, so features of a view and of the tiles of the whole image are
computed on the same footing. For a stored image the percentiles come from its smallest pyramid level, or
from a grid of small windows when even that level is large, so a 25k x 25k slide costs a fraction of a second.
"""

from __future__ import annotations

import numpy as np

from core.assist.features import ChannelScale, check_pixels
from core.errors import InvalidInputError
from core.imaging.reader import ImageReader

LOW_PERCENTILE = 1.0
HIGH_PERCENTILE = 99.8
#: A level up to this many pixels is read whole; larger ones are sampled by windows.
WHOLE_LEVEL_PIXELS = 4_000_000
_WINDOWS = 8  # per side of the sampling grid
_WINDOW = 128
_MAX_VALUES = 2_000_000


def channel_scale(pixels_or_reader: np.ndarray | ImageReader) -> ChannelScale:
    """``((low, high), ...)`` per channel of a (C, H, W) array or of an open :class:`ImageReader`."""
    if isinstance(pixels_or_reader, ImageReader):
        sample = _reader_sample(pixels_or_reader)
    else:
        sample = check_pixels(pixels_or_reader)
    channels = sample.shape[0]
    values = sample.reshape(channels, -1)
    if values.shape[1] > _MAX_VALUES:  # a regular subsample keeps percentiles cheap on huge arrays
        values = values[:, :: -(-values.shape[1] // _MAX_VALUES)]
    values = values.astype(np.float64)
    finite = np.isfinite(values)
    out = []
    for c in range(channels):
        v = values[c][finite[c]]
        if v.size == 0:
            raise InvalidInputError(
                f"channel {c} holds no finite value (all NaN or infinite); it cannot be scaled"
            )
        lo, hi = np.percentile(v, [LOW_PERCENTILE, HIGH_PERCENTILE])
        if hi - lo < 1e-6:  # a flat channel: map it to 0 instead of dividing by zero
            hi = lo + 1.0
        out.append((float(lo), float(hi)))
    return tuple(out)


def _reader_sample(reader: ImageReader) -> np.ndarray:
    level = reader.levels - 1
    height, width = reader.level_shapes[level]
    if height * width <= WHOLE_LEVEL_PIXELS:
        return reader.read_region(level, 0, 0, height, width)
    ys = np.linspace(0, max(height - _WINDOW, 0), _WINDOWS).astype(int)
    xs = np.linspace(0, max(width - _WINDOW, 0), _WINDOWS).astype(int)
    parts = [reader.read_region(level, int(y), int(x), _WINDOW, _WINDOW) for y in ys for x in xs]
    return np.concatenate([p.reshape(p.shape[0], -1) for p in parts], axis=1)[:, None, :]
