"""The working scale: the factor images are shrunk by before the network sees them.

Objects much wider than the network's view (mitochondria in 5 nm electron micrographs are 50 pixels and more
across) are learnt faster and better at a lower resolution: a training patch then holds whole objects with
their surroundings, and each step covers more of the image. Small objects keep every pixel.

``scale="auto"`` measures the width of the annotated objects (twice the largest distance from an object pixel
to the object's edge: a disc's diameter, an ellipse's short axis, a line's thickness) and halves the
resolution while the median object is still :data:`MAX_WIDTH` pixels wide or more, down to :data:`MIN_SCALE`
(nuclei of 10-30 pixels stay at full resolution; mitochondria 40-60 pixels wide are learnt at half). Halving
keeps tile sides that are multiples of 32 pixels whole, so tiles line up exactly with a whole-image pass.
Images are never enlarged.

The network's maps are resized back to the image's own pixels before post-processing: objects, measurements
and metrics are always in the original pixels. No file I/O: objects are read through the images' region
readers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from scipy import ndimage as ndi

from core.errors import InvalidInputError, ModelPackageError
from core.training.config import MIN_SCALE, check_scale
from core.training.sources import TrainingImage

MAX_WIDTH = 32.0  # pixels: the resolution is halved while the median object is at least this wide
MAX_MEASURED = 300  # objects measured for the auto choice (a seeded sample when there are more)


def choose_scale(
    setting: float | str,
    images: Sequence[TrainingImage],
    *,
    seed: int = 0,
    smallest_label: bool = False,
    max_width: float = MAX_WIDTH,
) -> dict:
    """The working scale for ``setting`` (``"auto"`` or a number from :data:`MIN_SCALE` to 1) and the
    training images.

    Returns ``{"factor", "rule"}`` and, for ``"auto"``, ``"median_width"``, ``"max_width"`` and
    ``"objects_measured"``: the model card's record.
    """
    if setting != "auto":
        return {"factor": check_scale(setting), "rule": "set by the user"}
    if smallest_label:  # the label with the smallest objects decides (each label measured on its own)
        groups = [object_widths(images, seed=seed, label=lab)
                  for lab in sorted({box[0] for im in images for box in im.object_boxes})]
        groups = [g for g in groups if g]
        widths = min(groups, key=lambda g: float(np.median(g))) if groups else []
    else:
        widths = object_widths(images, seed=seed)
    record = {"rule": "auto (smallest label)" if smallest_label else "auto", "max_width": max_width,
              "objects_measured": len(widths)}
    if not widths:
        return {"factor": 1.0, **record, "median_width": None}
    median = float(np.median(widths))
    factor = 1.0
    while median * factor >= max_width and factor / 2 >= MIN_SCALE:
        factor /= 2
    return {"factor": factor, **record, "median_width": round(median, 1)}


def card_scale(card: dict) -> float:
    """The working scale a model card records (1 for cards written before scales existed)."""
    record = card.get("scale")
    if record is None:
        return 1.0
    try:
        return check_scale(record["factor"] if isinstance(record, dict) else record)
    except (InvalidInputError, KeyError) as exc:
        raise ModelPackageError(f"the model card's scale {record!r} is not valid: {exc}") from None


def object_widths(images: Sequence[TrainingImage], *, seed: int = 0, label: int | None = None) -> list[float]:
    """Widths in pixels (twice the largest inside distance to the edge) of up to :data:`MAX_MEASURED`
    annotated objects (of label index ``label`` only, when given), read box by box (large images are never
    read whole)."""
    boxes = [(im, box) for im in images for box in im.object_boxes if label is None or box[0] == label]
    if len(boxes) > MAX_MEASURED:
        pick = np.random.default_rng(seed).choice(len(boxes), MAX_MEASURED, replace=False)
        boxes = [boxes[i] for i in sorted(pick)]
    return [w for im, box in boxes if (w := _box_width(im, box)) > 0]


def _box_width(im: TrainingImage, box: tuple[int, int, int, int, int]) -> float:
    """Width of the object filling most of ``box``: its pixels (instance id or connected component) are
    read with a one-pixel margin, so that the edge distance is measured inside the object only."""
    label, y0, x0, y1, x1 = box
    y0, x0 = max(y0 - 1, 0), max(x0 - 1, 0)
    y1, x1 = min(y1 + 1, im.height), min(x1 + 1, im.width)
    truth = im.targets(y0, x0, y1 - y0, x1 - x0)
    if "instances" in truth:
        plane = np.asarray(truth["instances"][label])
    else:
        plane = ndi.label(np.asarray(truth["masks"][label], dtype=bool))[0]
    ids, counts = np.unique(plane[plane > 0], return_counts=True)
    if ids.size == 0:
        return 0.0
    inside = plane == ids[np.argmax(counts)]
    # the image border is not an edge: pad with "inside" where the box touches it
    pad = ((int(y0 == 0), int(y1 == im.height)), (int(x0 == 0), int(x1 == im.width)))
    inside = np.pad(inside, pad, mode="edge")
    return 2.0 * float(ndi.distance_transform_edt(inside).max())


def scaled_size(n: int, factor: float) -> int:
    """The side in working pixels of ``n`` image pixels (at least 1)."""
    return max(1, int(round(n * factor)))


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """float32 ``(C, H, W)`` -> ``(C, *size)``: the mean of the covered pixels when shrinking, bilinear when
    enlarging (maps going back to the image's pixels)."""
    if tuple(pixels.shape[1:]) == tuple(size):
        return np.ascontiguousarray(pixels, dtype=np.float32)
    tensor = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None]
    return resize_batch(tensor, size)[0].numpy()


def resize_batch(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(N, C, h, w)`` float tensor -> ``(N, C, *size)``, as :func:`resize_pixels`."""
    if tuple(batch.shape[2:]) == tuple(size):
        return batch
    if size[0] <= batch.shape[2] and size[1] <= batch.shape[3]:
        return F.interpolate(batch, size=tuple(size), mode="area")
    return F.interpolate(batch, size=tuple(size), mode="bilinear", align_corners=False)


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize the last two axes of ground truth, dtype kept: bool masks (and valid) by majority of the covered
    pixels, integer instance ids by nearest neighbour (pixel centres to pixel centres)."""
    h, w = labels.shape[-2:]
    if (h, w) == tuple(size):
        return labels
    if labels.dtype == bool:
        flat = labels.reshape(-1, h, w).astype(np.float32)
        return (resize_pixels(flat, size) >= 0.5).reshape(*labels.shape[:-2], *size)
    rows = np.minimum(((np.arange(size[0]) + 0.5) * h / size[0]).astype(np.intp), h - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * w / size[1]).astype(np.intp), w - 1)
    return labels[..., rows[:, None], cols[None, :]]
