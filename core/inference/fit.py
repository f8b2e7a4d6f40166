"""Does an image fit a model? Channel count, bit depth, and whether there is anything to segment.

The model card records ``in_channels`` and the pixel type of the training images as ``dtype`` (e.g.
``"uint8"``; ``input_dtype`` is read too). The channel count must match. The bit depth need not: an image
of another pixel type is scaled with its own percentiles (:mod:`core.training.normalization`, "Bit depths")
and the prediction's warnings say so.
"""

from __future__ import annotations

import numpy as np

from core.errors import InvalidInputError, ModelPackageError

#: Pixels of the largest pyramid level :func:`check_not_empty` reads whole (the most detailed one that fits).
_OVERVIEW_PIXELS = 4_000_000
_BAND = 1024
_WINDOW = 256


def model_dtype(card: dict) -> np.dtype | None:
    """The pixel type the model was trained on, or None when the card does not say."""
    raw = card.get("dtype", card.get("input_dtype"))
    if raw is None:
        return None
    try:
        return np.dtype(str(raw))
    except TypeError as exc:
        raise ModelPackageError(
            f"the model card's dtype {raw!r} is not a pixel type; expected e.g. 'uint8'"
        ) from exc


def check_image_fits(card: dict, channels: int, dtype: object) -> None:
    """Raise :class:`ModelPackageError` unless an image of ``channels`` channels fits ``card``'s model (any
    pixel type ``dtype`` does; it is named in the message).

    The message names both, e.g. "the model expects 1 channel of uint8, this image has 3 channels of uint16".
    """
    expected_c = int(card["in_channels"])
    expected_t = model_dtype(card)
    got_t = np.dtype(dtype)
    if channels != expected_c:
        want = f"{_channels(expected_c)} of {expected_t}" if expected_t is not None else _channels(expected_c)
        raise ModelPackageError(
            f"the model expects {want}, this image has {_channels(channels)} of {got_t}; "
            "apply the model to images like those it was trained on, or train a model on this kind of image"
        )


def check_not_empty(source: object) -> None:
    """Raise :class:`InvalidInputError` when an image has no pixel or all its pixels have one value.

    ``source`` is an ``(C, H, W)`` / ``(H, W)`` array or a reader with ``shape``, ``level_shapes`` and
    ``read_region(level, y, x, h, w)``. A reader is judged on its smallest level (or, without a small level,
    on 16 windows spread over the image) first; only when that looks flat is the full resolution streamed
    in bands to make sure.
    """
    if isinstance(source, np.ndarray):
        arr = source if source.ndim == 3 else source[None]
        if arr.size == 0:
            raise InvalidInputError(f"the image is empty (shape {source.shape}); choose an image with pixels")
        if arr.min() == arr.max():
            raise InvalidInputError(_flat_message(arr.flat[0]))
        return
    c, h, w = source.shape
    if c * h * w == 0:
        raise InvalidInputError(f"the image is empty (shape {(c, h, w)}); choose an image with pixels")
    shapes = list(getattr(source, "level_shapes", [(h, w)]))
    small = min((i for i, (lh, lw) in enumerate(shapes) if lh * lw <= _OVERVIEW_PIXELS), default=None)
    if small is not None:
        lh, lw = shapes[small]
        overview = source.read_region(small, 0, 0, lh, lw)
        if overview.min() != overview.max():
            return
    else:  # no small level: a few windows spread over the image usually settle it
        values = [
            source.read_region(0, (h - 1) * i // 3, (w - 1) * j // 3, _WINDOW, _WINDOW)
            for i in range(4)
            for j in range(4)
        ]
        if min(v.min() for v in values) != max(v.max() for v in values):
            return
    lo, hi = None, None
    for y in range(0, h, _BAND):
        band = source.read_region(0, y, 0, min(_BAND, h - y), w)
        lo = band.min() if lo is None else min(lo, band.min())
        hi = band.max() if hi is None else max(hi, band.max())
        if lo != hi:
            return
    raise InvalidInputError(_flat_message(lo))


def _channels(n: int) -> str:
    return f"{n} channel" if n == 1 else f"{n} channels"


def _flat_message(value: object) -> str:
    return (
        f"the image is empty: every pixel has the value {value}, so there is nothing to segment; "
        "check that the right file (or channel) was chosen"
    )
