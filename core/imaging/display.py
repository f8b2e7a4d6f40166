"""Display helpers: per-channel contrast windows and an RGB composite of (C, h, w) pixels.

RGB 8-bit images are shown as they are; 16-bit and multichannel images get a window per channel
(``auto_contrast``: the 1st..99.8th percentile) and an additive colour composite (``compose_rgb``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import InvalidInputError

# Default channel colours (Fiji composite order: red, green, blue, grey, cyan, magenta, yellow, ...).
DEFAULT_CHANNEL_COLORS: tuple[str, ...] = (
    "#ff0000",
    "#00ff00",
    "#0000ff",
    "#ffffff",
    "#00ffff",
    "#ff00ff",
    "#ffff00",
    "#ff8000",
    "#8000ff",
    "#00ff80",
)
SINGLE_CHANNEL_COLOR = "#ffffff"
_SAMPLE_PIXELS = 1 << 20

Color = str | Sequence[float]


def _check_chw(arr: object) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 3 or 0 in arr.shape:
        raise InvalidInputError(
            f"expected pixels shaped (C, h, w) with no empty axis, got shape {arr.shape}; "
            "add a channel axis with arr[np.newaxis] for a 2D image"
        )
    return arr


def auto_contrast(arr: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.8) -> list[tuple[float, float]]:
    """Per-channel (low, high) display window at the given percentiles of ``arr`` (C, h, w).

    Large arrays are subsampled to about a million pixels per channel. ``high`` > ``low`` always.
    """
    arr = _check_chw(arr)
    if not 0.0 <= low_pct < high_pct <= 100.0:
        raise InvalidInputError(
            f"percentiles must satisfy 0 <= low_pct < high_pct <= 100, got {low_pct}, {high_pct}"
        )
    step = max(1, int(np.sqrt(arr.shape[1] * arr.shape[2] / _SAMPLE_PIXELS)))
    windows = []
    for channel in arr[:, ::step, ::step]:
        values = channel[np.isfinite(channel)] if channel.dtype.kind == "f" else channel.ravel()
        if values.size == 0:
            windows.append((0.0, 1.0))
            continue
        low, high = (float(v) for v in np.percentile(values, [low_pct, high_pct]))
        if high <= low:
            high = low + 1.0
        windows.append((low, high))
    return windows


def _rgb_of(color: Color) -> np.ndarray:
    if isinstance(color, str):
        text = color.lstrip("#")
        if len(text) != 6:
            raise InvalidInputError(f"colour {color!r} is not a hex colour like '#ff00aa'")
        try:
            return np.array([int(text[i : i + 2], 16) for i in (0, 2, 4)], np.float32) / 255.0
        except ValueError as exc:
            raise InvalidInputError(f"colour {color!r} is not a hex colour like '#ff00aa'") from exc
    values = np.asarray(color, np.float32)
    if values.shape != (3,):
        raise InvalidInputError(f"colour {color!r} must be a hex string or 3 numbers (r, g, b) in 0..255")
    return values / 255.0


def compose_rgb(
    arr: np.ndarray,
    *,
    contrast: Sequence[tuple[float, float]],
    colors: Sequence[Color] | None = None,
    visible: Sequence[bool] | None = None,
    is_rgb: bool = False,
) -> np.ndarray:
    """An 8-bit (h, w, 3) picture of ``arr`` (C, h, w).

    With ``is_rgb`` and 3 uint8 channels the pixels are shown as they are. Otherwise each visible channel
    is windowed by ``contrast[c]`` (low, high) onto 0..1, tinted by ``colors[c]`` (hex or (r, g, b);
    default white for one channel, :data:`DEFAULT_CHANNEL_COLORS` for several) and the tints are added.
    """
    arr = _check_chw(arr)
    channels = arr.shape[0]
    if is_rgb and channels == 3 and arr.dtype == np.uint8:
        return np.ascontiguousarray(np.moveaxis(arr, 0, -1))
    if len(contrast) != channels:
        raise InvalidInputError(
            f"contrast has {len(contrast)} windows for {channels} channels; "
            "pass one (low, high) per channel, e.g. auto_contrast(arr)"
        )
    if colors is None:
        if channels > len(DEFAULT_CHANNEL_COLORS):
            raise InvalidInputError(
                f"{channels} channels but only {len(DEFAULT_CHANNEL_COLORS)} default colours; pass colors="
            )
        colors = [SINGLE_CHANNEL_COLOR] if channels == 1 else DEFAULT_CHANNEL_COLORS[:channels]
    if len(colors) != channels:
        raise InvalidInputError(
            f"colors has {len(colors)} entries for {channels} channels; pass one per channel"
        )
    if visible is None:
        visible = [True] * channels
    if len(visible) != channels:
        raise InvalidInputError(
            f"visible has {len(visible)} entries for {channels} channels; pass one per channel"
        )
    out = np.zeros((*arr.shape[1:], 3), np.float32)
    for channel, (low, high), color, show in zip(arr, contrast, colors, visible, strict=True):
        if not show:
            continue
        scale = 1.0 / (high - low) if high > low else 1.0
        norm = channel.astype(np.float32)
        norm -= np.float32(low)
        norm *= np.float32(scale * 255.0)
        np.clip(norm, 0.0, 255.0, out=norm)
        if channel.dtype.kind == "f":
            np.nan_to_num(norm, copy=False, nan=0.0)
        for k, weight in enumerate(_rgb_of(color)):
            if weight:
                out[..., k] += norm * weight
    np.clip(out, 0.0, 255.0, out=out)
    np.rint(out, out=out)
    return out.astype(np.uint8)
