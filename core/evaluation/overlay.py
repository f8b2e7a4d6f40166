"""Overlays for the report and the UI: TP/FP/FN colouring and coloured objects. uint8 (H, W, 3) out.

TP/FP/FN colours follow IKOSA's validation pictures: true positives green, false positives red, false
negatives blue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from core.errors import InvalidInputError
from core.evaluation import _checks
from core.evaluation._labels import compact_labels
from core.evaluation.instance import MATCH_THRESHOLD, matched_pairs

TP_COLOR = (0, 200, 0)
FP_COLOR = (230, 0, 0)
FN_COLOR = (0, 90, 255)

#: Default object colours (Kelly / Trubetskoy's distinct colours), cycled by label.
PALETTE = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
    (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180),
    (0, 0, 128), (128, 128, 128),
)  # fmt: skip

Color = tuple[int, int, int] | str


def tpfpfn_overlay(
    image_rgb: np.ndarray, pred: np.ndarray, gt: np.ndarray, *, instance: bool, alpha: float = 0.5
) -> np.ndarray:
    """Colour prediction against ground truth over an image: TP green, FP red, FN blue.

    Args:
        image_rgb: (H, W, 3) or (H, W) image; uint8 is used as is, other dtypes are stretched min..max.
        pred, gt: semantic: bool (H, W) masks, coloured per pixel. Instance: int (H, W) label images,
            coloured per object by their match at IoU 0.5: matched predicted objects green, unmatched
            predicted objects red, unmatched ground-truth objects blue (filled where no predicted object
            covers them, and always outlined, so a missed object under a wrong prediction stays visible).
        instance: which of the two colourings.
        alpha: opacity of the fill colours, 0..1.

    Returns:
        uint8 (H, W, 3).
    """
    base, alpha = _check_image(image_rgb, alpha)
    if instance:
        pred = _checks.as_labels(pred, "pred")
        gt = _checks.as_labels(gt, "gt")
    else:
        pred = _checks.as_mask(pred, "pred", ndim=2)
        gt = _checks.as_mask(gt, "gt", ndim=2)
    _checks.same_shape(pred, gt, "pred", "gt")
    _checks.same_shape(pred, base[..., 0], "pred", "image_rgb (H, W)")
    colors = np.zeros(base.shape, dtype=np.uint8)
    painted = np.zeros(pred.shape, dtype=bool)
    if instance:
        pairs = matched_pairs(pred, gt, threshold=MATCH_THRESHOLD)
        matched_pred = np.isin(pred, [p for p, _, _ in pairs]) & (pred > 0)
        missed_gt = (gt > 0) & ~np.isin(gt, [g for _, g, _ in pairs])
        _paint(colors, painted, missed_gt, FN_COLOR)
        _paint(colors, painted, matched_pred, TP_COLOR)
        _paint(colors, painted, (pred > 0) & ~matched_pred, FP_COLOR)
        out = _blend(base, colors, painted, alpha)
        out[_edges(np.where(missed_gt, gt, 0))] = FN_COLOR
        return out
    _paint(colors, painted, pred & gt, TP_COLOR)
    _paint(colors, painted, pred & ~gt, FP_COLOR)
    _paint(colors, painted, ~pred & gt, FN_COLOR)
    return _blend(base, colors, painted, alpha)


def label_overlay(
    image_rgb: np.ndarray,
    labels: np.ndarray,
    *,
    colors: Sequence[Color] | Mapping[int, Color] | None = None,
    alpha: float = 0.4,
    outline: bool = True,
) -> np.ndarray:
    """Colour the objects of an (H, W) label image (0 = background) over an image.

    Args:
        image_rgb: (H, W, 3) or (H, W) image (see :func:`tpfpfn_overlay`).
        labels: int (H, W) labels, or a bool mask (one object colour).
        colors: None for :data:`PALETTE`; a sequence cycled by label (label 1 takes the first); or a mapping
            label -> colour (for label classes with their own colour). Colours are (r, g, b) or "#rrggbb".
        alpha: opacity of the fills, 0..1.
        outline: draw each object's edge in its colour at full opacity.

    Returns:
        uint8 (H, W, 3).
    """
    base, alpha = _check_image(image_rgb, alpha)
    labels = _checks.as_labels(labels, "labels")
    _checks.same_shape(labels, base[..., 0], "labels", "image_rgb (H, W)")
    ids, compact = compact_labels(labels)
    lut = np.zeros((len(ids) + 1, 3), dtype=np.uint8)
    for index, label in enumerate(ids.tolist(), start=1):
        lut[index] = _color_for(label, colors)
    colored = lut[compact]
    painted = labels > 0
    out = _blend(base, colored, painted, alpha)
    if outline:
        edge = _edges(labels)
        out[edge] = colored[edge]
    return out


def _paint(colors: np.ndarray, painted: np.ndarray, where: np.ndarray, color: tuple[int, int, int]) -> None:
    colors[where] = color
    painted |= where


def _blend(base: np.ndarray, colors: np.ndarray, where: np.ndarray, alpha: float) -> np.ndarray:
    out = base.copy()
    mixed = (1.0 - alpha) * base[where].astype(np.float32) + alpha * colors[where].astype(np.float32)
    out[where] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out


def _edges(labels: np.ndarray) -> np.ndarray:
    """bool (H, W): object pixels with a 4-neighbour of another label or on the image border."""
    padded = np.pad(labels, 1, mode="constant")
    centre = padded[1:-1, 1:-1]
    edge = (
        (padded[:-2, 1:-1] != centre)
        | (padded[2:, 1:-1] != centre)
        | (padded[1:-1, :-2] != centre)
        | (padded[1:-1, 2:] != centre)
    )
    return edge & (labels > 0)


def _color_for(label: int, colors: Sequence[Color] | Mapping[int, Color] | None) -> tuple[int, int, int]:
    if colors is None:
        return PALETTE[(label - 1) % len(PALETTE)]
    if isinstance(colors, Mapping):
        if label not in colors:
            raise InvalidInputError(
                f"colors has no colour for label {label}; it covers labels {sorted(colors)}. "
                "Add one, or pass a list of colours to cycle through."
            )
        return _parse_color(colors[label])
    if len(colors) == 0:
        raise InvalidInputError("colors is an empty list; pass at least one colour or None for the palette.")
    return _parse_color(colors[(label - 1) % len(colors)])


def _parse_color(value: Color) -> tuple[int, int, int]:
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if len(text) == 6:
            try:
                return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
            except ValueError:
                pass
        raise InvalidInputError(f"colour {value!r} is not of the form '#rrggbb' (e.g. '#e6194b').")
    rgb = tuple(int(v) for v in value)
    if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
        raise InvalidInputError(f"colour {value!r} must be three integers 0..255 (r, g, b) or '#rrggbb'.")
    return rgb  # type: ignore[return-value]


def _check_image(image_rgb: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    arr = np.asarray(image_rgb)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3):
        raise InvalidInputError(
            f"image_rgb must be (H, W, 3) or (H, W), got shape {np.asarray(image_rgb).shape}; "
            "for (C, H, W) images pick or merge channels into RGB first."
        )
    if arr.dtype != np.uint8:
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise InvalidInputError(f"image_rgb must be numeric, got dtype {arr.dtype}.")
        arr = arr.astype(np.float32)
        low, high = float(arr.min()) if arr.size else 0.0, float(arr.max()) if arr.size else 0.0
        scale = 255.0 / (high - low) if high > low else 0.0
        arr = np.clip(np.rint((arr - low) * scale), 0, 255).astype(np.uint8)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr), _checks.fraction(alpha, "alpha")
