"""Training patches: drawn through region reads, biased toward annotated objects, augmented, turned into
network targets, stacked into batches.

Batch ``i`` is made from ``np.random.default_rng([seed, i])`` only, so batches are reproducible and a
resumed run draws exactly the batches it would have drawn (no sampler state to save).

Network targets per patch (``L`` labels, patch ``P``):

* semantic: ``"mask"`` float32 ``(L, P, P)`` in {0, 1};
* instance: ``"cls"`` int64 ``(L, P, P)`` 0 background / 1 interior / 2 boundary, ``"dist"`` float32
  ``(L, P, P)`` per-object normalised distance to the edge (with the distance head), and ``"weight"`` float32
  ``(L, P, P)``: 1, and ``1 + contact_weight`` within :data:`CONTACT_REACH` pixels of two different objects
  (:func:`~core.evaluation.targets.contact_zone`; absent when ``contact_weight`` is 0); with edge rays
  (``edge_rays``), ``"rays"`` float32 ``(L * K, P / g, P / g)``: on every :data:`RAY_GRID`-th pixel (``g``)
  of each row and column, each object pixel's distance to its object's edge along the ``K`` directions of
  :func:`~core.evaluation.targets.ray_distances`, and ``"ray_cut"`` bool, the same shape: the rays that left
  the patch or ended on a pixel that is not valid (their distance is not known);
* both: ``"valid"`` bool ``(P, P)``: pixels that carry ground truth (padding and outside ROIs: False).

At a working scale below 1 (:mod:`core.training.scale`) a patch is read from a window of ``P / scale`` image
pixels and shrunk to ``P`` (pixels averaged, masks by majority, instance ids nearest), so the network learns
what it will see. The zoom augmentation (``AugmentOptions.zoom``) varies that window per patch in the same
way: a smaller window magnifies the objects, a larger one shrinks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.training.augment import augment_patch
from core.training.config import AugmentOptions, TrainConfig
from core.training.normalization import apply_normalization, image_normalization
from core.training.scale import resize_labels, resize_pixels
from core.training.sources import TrainingImage, truth_labels
from core.training.types import training_type
from core.training.types.instance import CONTACT_REACH, RAY_GRID  # noqa: F401  (re-exported)



@dataclass
class Batch:
    """``x`` float32 ``(B, C, P, P)``; ``targets`` arrays stacked on a leading batch axis."""

    x: np.ndarray
    targets: dict[str, np.ndarray]


class PatchSampler:
    """Draws augmented training patches from ``images`` (see the module docstring for the targets)."""

    def __init__(
        self,
        images: Sequence[TrainingImage],
        config: TrainConfig,
        norm: dict,
        *,
        batch_size: int,
        augment: AugmentOptions | None = None,
        scale: float = 1.0,
    ) -> None:
        self.images = list(images)
        self.config = config
        self.norm = norm
        self.batch_size = int(batch_size)
        self.augment = config.augment if augment is None else augment
        kind = training_type(config.training_type)
        self.instance = kind.object_ids
        # per image, the object boxes of each label (patches then centre on a label drawn first)
        self._by_label = [_boxes_by_label(im) for im in self.images] if kind.balance_labels else None
        self.window = max(1, int(round(config.patch_size / float(scale))))  # image pixels read per patch side
        sizes = np.array([im.height * im.width for im in self.images], dtype=np.float64)
        weights = np.sqrt(np.maximum(1.0, sizes / float(self.window) ** 2))
        self._weights = weights / weights.sum()
        self._norms = [image_normalization(im, norm, seed=config.seed) for im in self.images]

    def batch(self, index: int) -> Batch:
        """The ``index``-th batch of the run (deterministic in ``config.seed`` and ``index``)."""
        rng = np.random.default_rng([self.config.seed, int(index)])
        patches = [self.patch(rng) for _ in range(self.batch_size)]
        x = np.stack([p[0] for p in patches])
        targets = {key: np.stack([p[1][key] for p in patches]) for key in patches[0][1]}
        return Batch(x, targets)

    def patch(self, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One patch: image float32 ``(C, P, P)`` and its targets dict."""
        index = int(rng.choice(len(self.images), p=self._weights))
        im = self.images[index]
        window = self._zoomed_window(rng)
        y, x = self._corner(im, rng, index, window)
        size, norm = self.config.patch_size, self._norms[index]
        image, labels, valid = read_window(im, y, x, window, norm, instance=self.instance)
        if window != size:
            image = resize_pixels(image, (size, size))
            labels, valid = resize_labels(labels, (size, size)), resize_labels(valid, (size, size))
        if self.augment is not None:
            image, labels, valid = augment_patch(image, labels, valid, rng, self.augment)
        return image, network_targets(labels, valid, self.config)

    def _zoomed_window(self, rng: np.random.Generator) -> int:
        """Image pixels read for this patch's side: the working scale's window, divided by a magnification
        drawn log-uniformly from [1/zoom, zoom] when the zoom augmentation is on (no draw when it is off)."""
        zoom = self.augment.zoom if self.augment is not None else 1.0
        if zoom <= 1.0:
            return self.window
        magnification = float(np.exp(rng.uniform(-np.log(zoom), np.log(zoom))))
        return max(8, round(self.window / magnification))

    def _corner(self, im: TrainingImage, rng: np.random.Generator, index: int,
                window: int | None = None) -> tuple[int, int]:
        """Top-left corner of a ``window``-pixel patch (the working scale's by default): centred on a random
        object (``object_bias``), else random (inside a random ROI box when training on ROIs)."""
        p = window or self.window
        if im.object_boxes and rng.random() < self.config.object_bias:
            boxes = im.object_boxes
            if self._by_label is not None:  # a label first, so rare labels are seen as often as common ones
                groups = self._by_label[index]
                boxes = groups[int(rng.integers(len(groups)))]
            _, y0, x0, y1, x1 = boxes[int(rng.integers(len(boxes)))]
            cy, cx = int(rng.integers(y0, y1)), int(rng.integers(x0, x1))
        elif self.config.roi_only and im.roi_boxes:
            y0, x0, y1, x1 = im.roi_boxes[int(rng.integers(len(im.roi_boxes)))]
            cy, cx = int(rng.integers(y0, max(y1, y0 + 1))), int(rng.integers(x0, max(x1, x0 + 1)))
        else:
            cy, cx = int(rng.integers(0, im.height)), int(rng.integers(0, im.width))
        # jitter so that objects are not always in the exact centre
        cy += int(rng.integers(-p // 4, p // 4 + 1))
        cx += int(rng.integers(-p // 4, p // 4 + 1))
        y = int(np.clip(cy - p // 2, 0, max(im.height - p, 0)))
        x = int(np.clip(cx - p // 2, 0, max(im.width - p, 0)))
        return y, x


def _boxes_by_label(im: TrainingImage) -> list[list]:
    """The image's object boxes grouped by label (labels in order)."""
    groups: dict[int, list] = {}
    for box in im.object_boxes:
        groups.setdefault(box[0], []).append(box)
    return [groups[k] for k in sorted(groups)]


def read_window(
    im: TrainingImage, y: int, x: int, size: int, norm: dict, *, instance: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a ``size`` x ``size`` window at (y, x), normalised with ``norm`` (scope dataset: resolve an
    image-scope record with :func:`image_normalization` first), padded where the image is smaller.

    Returns image float32 ``(C, size, size)`` (padding 0), labels ``(L, size, size)`` (instance ids int32
    when ``instance`` else bool masks; padding 0) and valid bool ``(size, size)`` (padding False).
    """
    h, w = min(size, im.height - y), min(size, im.width - x)
    pixels = apply_normalization(np.asarray(im.read(y, x, h, w)), norm)
    truth = im.targets(y, x, h, w)
    labels = truth_labels(truth, instance=instance)
    valid = np.asarray(truth["valid"], dtype=bool)
    if (h, w) == (size, size):
        return pixels, labels, valid
    image = np.zeros((pixels.shape[0], size, size), dtype=np.float32)
    image[:, :h, :w] = pixels
    lab = np.zeros((labels.shape[0], size, size), dtype=labels.dtype)
    lab[:, :h, :w] = labels
    val = np.zeros((size, size), dtype=bool)
    val[:h, :w] = valid
    return image, lab, val


def network_targets(
    labels: np.ndarray, valid: np.ndarray, config: TrainConfig, *, rays: bool = True
) -> dict[str, np.ndarray]:
    """Targets of one patch from its labels ``(L, P, P)`` and valid mask (see the module docstring);
    ``rays=False`` leaves out the edge rays (validation scores the maps, which have none)."""
    return training_type(config.training_type).network_targets(labels, valid, config, rays=rays)
