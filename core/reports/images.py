"""Downscaling for the report: images by block averaging, label images and masks by nearest sampling.

Both use the same integer factor ``f = ceil(longest side / max_side)`` and give ``ceil(H / f)`` x
``ceil(W / f)`` pixels, so an image, its ground truth and its prediction stay aligned pixel for pixel.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from core.errors import InvalidInputError
from core.reports.data import BoxExample, ValidationExample

#: Largest side of anything embedded in a report (validation examples are downscaled to it).
EMBED_MAX_SIDE = 1024


def downscale_for_report(
    image: np.ndarray, *, max_side: int = EMBED_MAX_SIDE, labels: bool = False
) -> np.ndarray:
    """Shrink an image or label array so that its longest side is at most ``max_side`` pixels.

    Args:
        image: with ``labels=False``, an (H, W) or (H, W, C) image: each output pixel is the mean of an
            ``f`` x ``f`` block (integers are rounded and keep their dtype, floats stay float; blocks at the
            right and bottom edges average the pixels they have). With ``labels=True``, an (H, W) or
            (L, H, W) label image or mask: each output pixel is the value at the centre of its block
            (labels are never averaged), dtype kept.
        max_side: the longest side allowed, >= 1.
        labels: which of the two (see above).

    Returns:
        The array itself when it is small enough, else a downscaled copy.
    """
    arr, max_side = _check_downscale(image, max_side, labels)
    h, w = arr.shape[-2:] if labels else arr.shape[:2]
    factor = math.ceil(max(h, w) / max_side)
    if factor <= 1:
        return arr
    if labels:
        rows = _centres(h, factor)
        cols = _centres(w, factor)
        return arr[..., rows[:, None], cols[None, :]]
    return _block_mean(arr, factor)


def downscale_example(example: ValidationExample, *, max_side: int = EMBED_MAX_SIDE) -> ValidationExample:
    """The example with its image, ground truth and prediction downscaled by the same factor."""
    return ValidationExample(
        name=example.name,
        image_rgb=downscale_for_report(example.image_rgb, max_side=max_side),
        gt=downscale_for_report(example.gt, max_side=max_side, labels=True),
        pred=downscale_for_report(example.pred, max_side=max_side, labels=True),
        label_index=example.label_index,
    )


def downscale_box_example(example: BoxExample, *, max_side: int = EMBED_MAX_SIDE) -> BoxExample:
    """The box example with its image downscaled as :func:`downscale_for_report` does and its boxes divided
    by the same factor."""
    factor = math.ceil(max(np.shape(example.image_rgb)[:2]) / max_side)
    if factor <= 1:
        return example
    image = downscale_for_report(example.image_rgb, max_side=max_side)

    def shrink(boxes: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(b, dtype=np.float64).reshape(-1, 4) / factor for b in boxes]

    return BoxExample(example.name, image, shrink(example.truth), shrink(example.pred),
                      [np.asarray(m, dtype=np.int64) for m in example.matched])


def _centres(n: int, factor: int) -> np.ndarray:
    return np.minimum(np.arange(math.ceil(n / factor)) * factor + factor // 2, n - 1)


def _block_mean(arr: np.ndarray, factor: int) -> np.ndarray:
    if arr.dtype == np.uint8 and (arr.ndim == 2 or arr.shape[2] in (3, 4)):
        # Pillow's box reduction (C code): the same block means, computed in C
        return np.asarray(Image.fromarray(np.ascontiguousarray(arr)).reduce(factor))
    h, w = arr.shape[:2]
    out_h, out_w = math.ceil(h / factor), math.ceil(w / factor)
    squeeze = arr.ndim == 2
    if squeeze:
        arr = arr[..., None]
    channels = arr.shape[2]
    sums = np.zeros((out_h, out_w, channels), dtype=np.float64)
    band = factor * max(1, 4096 // factor)  # rows per chunk: bounded memory for very large images
    for top in range(0, h, band):
        block = arr[top : top + band].astype(np.float64)
        pad_r, pad_c = (-block.shape[0]) % factor, out_w * factor - w
        block = np.pad(block, ((0, pad_r), (0, pad_c), (0, 0)))
        block = block.reshape(block.shape[0] // factor, factor, out_w, factor, channels)
        sums[top // factor : top // factor + block.shape[0]] = block.sum(axis=(1, 3))
    rows = np.minimum(factor, h - np.arange(out_h) * factor)
    cols = np.minimum(factor, w - np.arange(out_w) * factor)
    out = sums / (rows[:, None] * cols[None, :])[..., None]
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        out = np.clip(np.rint(out), info.min, info.max).astype(arr.dtype)
    else:
        out = out.astype(np.result_type(arr.dtype, np.float32))
    return out[..., 0] if squeeze else out


def _check_downscale(image: np.ndarray, max_side: int, labels: bool) -> tuple[np.ndarray, int]:
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1:
        raise InvalidInputError(f"max_side must be a whole number of pixels >= 1, got {max_side!r}.")
    arr = np.asarray(image)
    if labels and arr.ndim not in (2, 3):
        raise InvalidInputError(
            f"a label image must be (H, W) or (L, H, W), got shape {arr.shape}; pass one image's labels."
        )
    if not labels and (arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] > 16)):
        raise InvalidInputError(
            f"an image must be (H, W) or (H, W, C) with C <= 16, got shape {arr.shape}; "
            "for (C, H, W) images move the channel axis last (np.moveaxis(image, 0, -1)), "
            "for label images pass labels=True."
        )
    if not labels and not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InvalidInputError(f"an image must be numeric, got dtype {arr.dtype}.")
    if arr.size == 0:
        raise InvalidInputError(f"the image is empty (shape {arr.shape}); pass an image with pixels.")
    if not labels and arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    return arr, int(max_side)
