"""One example of a class: a whole image or an ROI crop, read on demand as ``(C, H, W)``.

Minimal version written for the journey branch (issue 26); the engine's owner provides the full module with
the same names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import InvalidInputError


@dataclass
class ClassExample:
    """``read()`` returns the example ``(C, H, W)`` in its stored dtype; ``label`` is the class index."""

    key: str
    label: int
    read: Callable[[], np.ndarray]
    shape: tuple[int, int, int]
    dtype: str


def ArrayExample(key: str, array_chw: np.ndarray, label: int) -> ClassExample:
    """An example held in memory (tests)."""
    array = np.asarray(array_chw)
    if array.ndim != 3:
        raise InvalidInputError(f"example {key!r} must be (C, H, W), got shape {array.shape}")
    return ClassExample(key, int(label), lambda: array, tuple(int(v) for v in array.shape), str(array.dtype))  # type: ignore[arg-type]
