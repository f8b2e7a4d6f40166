"""Pictures of a proposal for the annotate page: a class overlay and an uncertainty heat map."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from core.errors import InvalidInputError

#: Colour map of the uncertainty picture (dark = sure, bright = unsure).
UNCERTAINTY_CMAP = "inferno"


def _hex_rgb(color: str) -> np.ndarray:
    text = str(color).strip()
    if len(text) != 7 or text[0] != "#":
        raise InvalidInputError(f"colour {color!r} must be written #rrggbb, e.g. #ff0000")
    try:
        return np.array([int(text[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float32)
    except ValueError as exc:
        raise InvalidInputError(f"colour {color!r} must be written #rrggbb, e.g. #ff0000") from exc


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InvalidInputError(f"the picture must be (H, W, 3) RGB or (H, W) grey, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise InvalidInputError(f"the picture must be uint8 (a rendered view), got dtype {arr.dtype}")
    return arr


def overlay_rgb(
    rgb: np.ndarray, classes: np.ndarray, colors: Mapping[int, str], *, alpha: float = 0.45
) -> np.ndarray:
    """uint8 (H, W, 3): ``rgb`` with each class index in ``colors`` tinted by its ``#rrggbb`` colour.

    Classes absent from ``colors`` (usually 0, background) are left as they are.
    """
    base = _as_rgb(rgb)
    cls = np.asarray(classes)
    if cls.shape != base.shape[:2]:
        raise InvalidInputError(f"class map {cls.shape} and picture {base.shape[:2]} differ in size")
    if not 0.0 <= float(alpha) <= 1.0:
        raise InvalidInputError(f"alpha must be in [0, 1], got {alpha!r}")
    lut = np.zeros((256, 3), dtype=np.float32)
    tinted = np.zeros(256, dtype=bool)
    for k, color in colors.items():
        if not 0 <= int(k) < 256:
            raise InvalidInputError(f"class index {k!r} in colors must be 0..255")
        lut[int(k)] = _hex_rgb(color)
        tinted[int(k)] = True
    out = base.copy()
    idx = cls.astype(np.uint8, copy=False)
    mask = tinted[idx]
    blend = base[mask].astype(np.float32) * (1 - float(alpha)) + lut[idx[mask]] * float(alpha)
    out[mask] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    return out


@lru_cache(maxsize=1)
def _uncertainty_lut() -> np.ndarray:
    from matplotlib import colormaps

    return (colormaps[UNCERTAINTY_CMAP](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def uncertainty_rgb(uncertainty: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) heat map of an uncertainty map (H, W) in [0, 1] (values outside are clipped)."""
    arr = np.asarray(uncertainty, dtype=np.float32)
    if arr.ndim != 2:
        raise InvalidInputError(f"uncertainty must be an (H, W) map, got shape {arr.shape}")
    idx = np.rint(np.clip(np.nan_to_num(arr, nan=1.0), 0, 1) * 255).astype(np.uint8)
    return _uncertainty_lut()[idx]
