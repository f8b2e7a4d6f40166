"""The data interface of the classification engine: one example per image (or ROI crop) and its class.

The engine never sees the database or files. Whoever calls it builds :class:`ClassExample` objects whose
``read()`` returns the whole example ``(C, H, W)`` in its stored pixel type (an image, or the crop of an ROI
that carries a class); :func:`ArrayExample` builds one over an in-memory array (tests, benchmarks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import InvalidInputError

MAX_CHANNELS = 10  # as core.training.models.MAX_CHANNELS


@dataclass
class ClassExample:
    """One example: ``key`` (image key, or image key and ROI), ``label`` (the class index: its position in
    the training's classes), ``read()`` -> ``(C, H, W)`` in ``dtype``, and its ``shape`` ``(C, H, W)``."""

    key: str
    label: int
    read: Callable[[], np.ndarray]
    shape: tuple[int, int, int]
    dtype: str

    @property
    def channels(self) -> int:
        return int(self.shape[0])


def ArrayExample(key: str, array_chw: np.ndarray, label: int) -> ClassExample:
    """A :class:`ClassExample` over an in-memory ``(C, H, W)`` array (a 2D array is one channel)."""
    arr = np.asarray(array_chw)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InvalidInputError(f"example {key!r} has shape {arr.shape}; pass an (H, W) or (C, H, W) array")
    shape = (int(arr.shape[0]), int(arr.shape[1]), int(arr.shape[2]))
    return ClassExample(str(key), int(label), lambda: arr, shape, str(arr.dtype))


def check_examples(examples: Sequence[ClassExample], n_classes: int, name: str) -> int:
    """Check one set of examples (``name``: "training" or "validation"); returns their channel count.
    Every example must have a class index in ``0..n_classes - 1``, the same channels, and pixels."""
    if not examples:
        raise InvalidInputError(f"the {name} set has no example; it needs at least one image with a class")
    channels = set()
    for ex in examples:
        if not isinstance(ex, ClassExample):
            raise InvalidInputError(f"the {name} set holds {type(ex).__name__}; pass ClassExample objects")
        whole = isinstance(ex.label, (int, np.integer)) and not isinstance(ex.label, bool)
        if not whole or not 0 <= ex.label < n_classes:
            raise InvalidInputError(
                f"{name} example {ex.key!r} has class index {ex.label!r}; it must be 0..{n_classes - 1} "
                f"(the position of its class in config.labels)"
            )
        if len(ex.shape) != 3 or min(ex.shape) < 1:
            raise InvalidInputError(
                f"{name} example {ex.key!r} has shape {ex.shape}; expected (C, H, W) with pixels"
            )
        channels.add(int(ex.shape[0]))
    if len(channels) != 1:
        raise InvalidInputError(
            f"the {name} examples have different channel counts {sorted(channels)}; use images of one type"
        )
    (c,) = channels
    if not 1 <= c <= MAX_CHANNELS:
        raise InvalidInputError(
            f"the {name} examples have {c} channels; from 1 to {MAX_CHANNELS} are supported"
        )
    return c


def read_checked(example: ClassExample) -> np.ndarray:
    """``example.read()`` as a ``(C, H, W)`` array, checked against the example's shape."""
    arr = np.asarray(example.read())
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape != tuple(example.shape):
        raise InvalidInputError(
            f"example {example.key!r} read as shape {arr.shape} but says {tuple(example.shape)}; "
            "its reader and its shape disagree"
        )
    return arr
