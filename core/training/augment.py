"""Patch augmentation in numpy: flips, 90° rotations, elastic deformation, intensity/contrast jitter, noise.

Geometric transforms move the image ``(C, P, P)`` float32, the label planes ``(L, P, P)`` (instance ids or
masks, nearest-neighbour) and the valid mask ``(P, P)`` together, so targets stay aligned with pixels.
Photometric transforms touch the image only. Every random draw comes from the ``rng`` passed in.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from core.training.config import AugmentOptions


def augment_patch(
    image: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    rng: np.random.Generator,
    options: AugmentOptions,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Augment one square patch. ``image`` float32 ``(C, P, P)`` (normalised), ``labels`` int/bool
    ``(L, P, P)``, ``valid`` bool ``(P, P)``. Returns new arrays of the same shapes and dtypes."""
    if options.flips and rng.random() < 0.5:
        image, labels, valid = image[:, :, ::-1], labels[:, :, ::-1], valid[:, ::-1]
    if options.flips and rng.random() < 0.5:
        image, labels, valid = image[:, ::-1], labels[:, ::-1], valid[::-1]
    if options.rot90:
        k = int(rng.integers(0, 4))
        if k:
            image = np.rot90(image, k, axes=(1, 2))
            labels = np.rot90(labels, k, axes=(1, 2))
            valid = np.rot90(valid, k)
    if options.elastic and rng.random() < 0.5:
        image, labels, valid = elastic_deform(
            image, labels, valid, rng, alpha=options.elastic_alpha, grid=options.elastic_grid
        )
    image = np.ascontiguousarray(image, dtype=np.float32)
    if options.intensity:
        contrast = rng.uniform(0.75, 1.33, size=(image.shape[0], 1, 1)).astype(np.float32)
        brightness = rng.uniform(-0.1, 0.1, size=(image.shape[0], 1, 1)).astype(np.float32)
        image = image * contrast + brightness
    if options.noise and rng.random() < 0.5:
        sigma = float(rng.uniform(0.0, 0.06))
        image = image + rng.normal(0.0, sigma, size=image.shape).astype(np.float32)
    return image, np.ascontiguousarray(labels), np.ascontiguousarray(valid)


def elastic_deform(
    image: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    rng: np.random.Generator,
    *,
    alpha: float,
    grid: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth random displacement (a coarse grid of N(0, alpha) shifts, bilinearly upsampled) applied to
    the image (linear), the labels and the valid mask (nearest). Outside the patch: image reflected,
    valid False, so pixels pulled in from nowhere carry no ground truth."""
    _, h, w = image.shape
    gh, gw = max(2, h // grid + 1), max(2, w // grid + 1)
    coarse = rng.normal(0.0, alpha, size=(2, gh, gw))
    dy = ndi.zoom(coarse[0], (h / gh, w / gw), order=1, mode="nearest", grid_mode=True)[:h, :w]
    dx = ndi.zoom(coarse[1], (h / gh, w / gw), order=1, mode="nearest", grid_mode=True)[:h, :w]
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    coords = np.stack([yy + dy, xx + dx])
    near = np.rint(coords).astype(np.intp)
    inside = (near[0] >= 0) & (near[0] < h) & (near[1] >= 0) & (near[1] < w)
    ny, nx = np.clip(near[0], 0, h - 1), np.clip(near[1], 0, w - 1)
    out_img = np.stack([ndi.map_coordinates(ch, coords, order=1, mode="mirror") for ch in image])
    out_labels = labels[:, ny, nx]
    out_valid = valid[ny, nx] & inside
    return out_img.astype(np.float32, copy=False), out_labels, out_valid
