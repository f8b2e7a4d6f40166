"""Validation visualisations: image | ground truth | prediction | TP/FP/FN overlay, one row per label.

The TP/FP/FN overlay is computed at the example's resolution (so objects are matched as in the metrics)
and then shrunk; ground truth and prediction are drawn in the label's colour with object outlines.
Each tile is at most ``tile_side`` pixels per side. Output: uint8 (H, W, 3) and PNG bytes.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.evaluation.overlay import FN_COLOR, FP_COLOR, TP_COLOR, label_overlay, tpfpfn_overlay
from core.reports.data import ValidationExample
from core.reports.fonts import covered, fallback_path, sans_path
from core.reports.images import downscale_for_report

#: Longest side of one tile of a validation visualisation, in pixels.
TILE_SIDE = 512
#: Smaller examples are enlarged (nearest neighbour, whole factors) to at least this longest side.
MIN_TILE_SIDE = 256
COLUMNS = ("image", "ground truth", "prediction", "TP / FP / FN")
_GAP = 6
_PAD = 8
_BACKGROUND = (255, 255, 255)
_TEXT = (30, 30, 30)
_MUTED = (110, 110, 110)


def visualization_rows(
    example: ValidationExample, *, label_names: list[str], label_colors: list[str]
) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """``(caption, colour, gt (H, W), pred (H, W))`` per row: one per label held by the example."""
    gt, pred = example.gt, example.pred
    if gt.ndim == 3:
        return [(label_names[k], label_colors[k], gt[k], pred[k]) for k in range(gt.shape[0])]
    if example.label_index is not None:
        k = example.label_index
        return [(label_names[k], label_colors[k], gt, pred)]
    if len(label_names) == 1:
        return [(label_names[0], label_colors[0], gt, pred)]
    return [("all labels", "#808080", gt, pred)]  # instance labels of every label in one image


def render_panel(
    example: ValidationExample,
    *,
    instance: bool,
    label_names: list[str],
    label_colors: list[str],
    tile_side: int = TILE_SIDE,
) -> np.ndarray:
    """The visualisation of one validation example: uint8 (H, W, 3), titles and a legend included."""
    example = _enlarge_small(example, min(MIN_TILE_SIDE, tile_side))
    image = (
        example.image_rgb if example.image_rgb.ndim == 3 else np.repeat(example.image_rgb[..., None], 3, 2)
    )
    small_image = downscale_for_report(image, max_side=tile_side)
    rows = []
    for caption, color, gt, pred in visualization_rows(
        example, label_names=label_names, label_colors=label_colors
    ):
        small_gt = downscale_for_report(gt, max_side=tile_side, labels=True)
        small_pred = downscale_for_report(pred, max_side=tile_side, labels=True)
        tiles = [
            small_image,
            label_overlay(small_image, small_gt, colors=[color], alpha=0.45),
            label_overlay(small_image, small_pred, colors=[color], alpha=0.45),
            downscale_for_report(tpfpfn_overlay(image, pred, gt, instance=instance), max_side=tile_side),
        ]
        rows.append((caption, tiles))
    return compose_panel(example.name, rows, instance=instance)


def _enlarge_small(example: ValidationExample, min_side: int) -> ValidationExample:
    """Whole-factor nearest-neighbour enlargement (object IoUs, hence the TP/FP/FN colours, are unchanged)."""
    factor = min_side // max(example.image_rgb.shape[:2])
    if factor <= 1:
        return example

    def grow(arr: np.ndarray, axes: tuple[int, int]) -> np.ndarray:
        return np.repeat(np.repeat(arr, factor, axis=axes[0]), factor, axis=axes[1])

    return ValidationExample(
        example.name,
        grow(example.image_rgb, (0, 1)),
        grow(example.gt, (-2, -1)),
        grow(example.pred, (-2, -1)),
        example.label_index,
    )


#: A panel is stored with a 256-colour palette when that changes its pixels by less than this on average
#: (grey images with label colours: about 0.06 of 255); colour images that would band keep full RGB.
PALETTE_MAX_ERROR = 0.5


def png_bytes(rgb: np.ndarray, *, compress_level: int = 3) -> bytes:
    """PNG encoding of a uint8 (H, W, 3) array (level 3: 3x faster than 6 for ~7 % more bytes).

    A palette PNG (half the bytes) is written when it is visually lossless (:data:`PALETTE_MAX_ERROR`).
    """
    picture = Image.fromarray(rgb)
    paletted = picture.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    error = np.abs(np.asarray(paletted.convert("RGB"), dtype=np.int16) - rgb).mean() if rgb.size else 0.0
    buffer = io.BytesIO()
    (paletted if error < PALETTE_MAX_ERROR else picture).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


class _Text:
    """Text in DejaVu Sans at one size, with Last Resort boxes for the characters DejaVu lacks."""

    def __init__(self, size: int, bold: bool = False) -> None:
        self.main = _font(size, bold)
        self.fallback = _fallback_font(size)

    def runs(self, text: str) -> list[tuple[str, ImageFont.FreeTypeFont]]:
        out: list[tuple[str, ImageFont.FreeTypeFont]] = []
        for ch in text:
            font = self.main if covered(ch) else self.fallback
            if out and out[-1][1] is font:
                out[-1] = (out[-1][0] + ch, font)
            else:
                out.append((ch, font))
        return out

    def length(self, text: str) -> float:
        return sum(font.getlength(run) for run, font in self.runs(text))

    def draw(self, draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, fill) -> None:
        x, y = xy
        for run, font in self.runs(text):
            draw.text((x, y), run, font=font, fill=fill)
            x += font.getlength(run)


@cache
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(sans_path(bold)), size)


@cache
def _fallback_font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(fallback_path()), size)


def compose_panel(name: str, rows: list[tuple[str, list[np.ndarray]]], *, instance: bool) -> np.ndarray:
    """The picture of one example: its name, the :data:`COLUMNS` headings, one captioned row of four tiles
    per label (all tiles of one size) and the TP / FP / FN legend (``instance``: of objects, else pixels)."""
    tile_h, tile_w = rows[0][1][0].shape[:2]
    scale = max(1.0, tile_w / 220)  # text grows with the tiles, so it stays readable when the panel is shrunk
    title_font, head_font, small_font = (
        _Text(round(15 * scale), True),
        _Text(round(12 * scale)),
        _Text(round(11 * scale)),
    )
    line = round(20 * scale)
    width = 2 * _PAD + 4 * tile_w + 3 * _GAP
    height = _PAD + line + line + len(rows) * (line + tile_h + _GAP) + line + _PAD
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    y = _PAD
    title_font.draw(draw, (_PAD, y), _fit(name, title_font, width - 2 * _PAD), _TEXT)
    y += line
    for c, title in enumerate(COLUMNS):
        x = _PAD + c * (tile_w + _GAP)
        head_font.draw(draw, (x, y), _fit(title, head_font, tile_w), _MUTED)
    y += line
    for caption, tiles in rows:
        head_font.draw(draw, (_PAD, y), _fit(f"label: {caption}", head_font, width - 2 * _PAD), _TEXT)
        y += line
        for c, tile in enumerate(tiles):
            canvas.paste(Image.fromarray(tile), (_PAD + c * (tile_w + _GAP), y))
        y += tile_h + _GAP
    _legend(draw, _PAD, y + 2, small_font, round(12 * scale), instance=instance)
    return np.asarray(canvas)


def _legend(draw: ImageDraw.ImageDraw, x: int, y: int, font: _Text, box: int, *, instance: bool) -> None:
    unit = "objects" if instance else "pixels"
    items = [
        (TP_COLOR, f"true positive {unit}"),
        (FP_COLOR, f"false positive {unit}"),
        (FN_COLOR, f"false negative {unit}"),
    ]
    for color, text in items:
        draw.rectangle((x, y, x + box, y + box), fill=color)
        x += box + 4
        font.draw(draw, (x, y - 1), text, _TEXT)
        x += int(font.length(text)) + 3 * box
    if instance:
        font.draw(draw, (x, y - 1), "(matched at IoU ≥ 0.5)", _MUTED)


def _fit(text: str, font: _Text, width: int) -> str:
    """``text`` shortened with an ellipsis in the middle so that it fits ``width`` pixels."""
    if font.length(text) <= width:
        return text
    keep = len(text)
    while keep > 2:
        keep -= max(1, keep // 10)
        head, tail = text[: (keep + 1) // 2], text[len(text) - keep // 2 :]
        candidate = f"{head}…{tail}"
        if font.length(candidate) <= width:
            return candidate
    return "…"
