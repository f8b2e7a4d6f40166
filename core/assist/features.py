"""Multi-scale pixel features for the scribble forest: intensity, edges and texture per channel and scale.

For every channel (normalised with a per-image :data:`ChannelScale`) and every ``sigma`` of a
:class:`FeatureSpec`, the channel is smoothed once with a Gaussian and the features are read off the
smoothed plane with small finite differences (which is much cheaper than one Gaussian-derivative filter per
feature and keeps the support small):

* ``intensity``: the smoothed value;
* ``edges``: the gradient magnitude (central differences);
* ``texture``: the two eigenvalues of the Hessian (second differences), which tell blobs, ridges and
  flat areas apart.

Every feature of a pixel depends only on the pixels within :attr:`FeatureSpec.halo` of it (the image border
is mirrored), so features of a tile read with that much context equal, bit for bit, the features of the
whole image: tiled whole-image proposals agree with single-view proposals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from core.errors import InvalidInputError

#: Gaussian kernels are cut at this many sigmas.
TRUNCATE = 3.5
#: Features per (channel, sigma) for each feature group.
GROUP_SIZES = {"intensity": 1, "edges": 1, "texture": 2}

#: Per-channel ``(low, high)`` intensities mapped to 0 and 1 (see :func:`core.assist.scale.channel_scale`).
ChannelScale = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class FeatureSpec:
    """Which features at which Gaussian scales (in full-resolution pixels)."""

    sigmas: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    intensity: bool = True
    edges: bool = True
    texture: bool = True

    def __post_init__(self) -> None:
        try:
            sigmas = tuple(float(s) for s in self.sigmas)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"sigmas must be numbers, got {self.sigmas!r}; e.g. (1.0, 2.0, 4.0)"
            ) from exc
        if not sigmas or not all(math.isfinite(s) and 0 < s <= 64 for s in sigmas):
            raise InvalidInputError(
                f"sigmas must be one or more scales in (0, 64] pixels, got {self.sigmas!r}; "
                "e.g. (1.0, 2.0, 4.0)"
            )
        if not (self.intensity or self.edges or self.texture):
            raise InvalidInputError("a feature spec needs at least one of intensity, edges or texture")
        object.__setattr__(self, "sigmas", sigmas)

    @property
    def per_channel(self) -> int:
        """Features per channel."""
        groups = sum(GROUP_SIZES[g] for g in GROUP_SIZES if getattr(self, g))
        return groups * len(self.sigmas)

    def n_features(self, channels: int) -> int:
        return self.per_channel * int(channels)

    @property
    def halo(self) -> int:
        """Pixels of context a tile needs so that its features equal those of the whole image."""
        return max(_radius(s) for s in self.sigmas) + 1

    def names(self, channels: int) -> list[str]:
        """Feature names in the order of the last axis of :func:`pixel_features`."""
        out = []
        for c in range(int(channels)):
            for s in self.sigmas:
                if self.intensity:
                    out.append(f"c{c} intensity s{s:g}")
                if self.edges:
                    out.append(f"c{c} edges s{s:g}")
                if self.texture:
                    out += [f"c{c} hessian-max s{s:g}", f"c{c} hessian-min s{s:g}"]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "sigmas": list(self.sigmas),
            "intensity": self.intensity,
            "edges": self.edges,
            "texture": self.texture,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        if not isinstance(d, dict) or "sigmas" not in d:
            raise InvalidInputError(f"a feature spec record needs 'sigmas', got {d!r}")
        unknown = set(d) - {"sigmas", "intensity", "edges", "texture"}
        if unknown:
            raise InvalidInputError(f"feature spec record has unknown keys {sorted(unknown)}")
        return cls(
            sigmas=tuple(d["sigmas"]),
            intensity=bool(d.get("intensity", True)),
            edges=bool(d.get("edges", True)),
            texture=bool(d.get("texture", True)),
        )


def _radius(sigma: float) -> int:
    return int(TRUNCATE * sigma + 0.5)  # scipy.ndimage's kernel radius


def check_pixels(pixels: object, name: str = "pixels") -> np.ndarray:
    """``pixels`` as a (C, H, W) numeric array, or a clear error."""
    arr = np.asarray(pixels)
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise InvalidInputError(
            f"{name} must be a (C, H, W) array (channels first), got shape {arr.shape}; "
            "add a channel axis to a 2D image with image[None]"
        )
    numeric = np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    if not (numeric or arr.dtype == bool):
        raise InvalidInputError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return arr


def check_scale(scale: object, channels: int) -> ChannelScale:
    """``scale`` as one finite ``(low, high)`` pair per channel with high > low, or a clear error."""
    try:
        pairs = tuple((float(lo), float(hi)) for lo, hi in scale)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"scale must be one (low, high) pair per channel, got {scale!r}; compute it with channel_scale()"
        ) from exc
    if len(pairs) != channels:
        raise InvalidInputError(
            f"scale has {len(pairs)} channel(s) but the image has {channels}; compute the scale of this "
            "image with channel_scale()"
        )
    if not all(math.isfinite(lo) and math.isfinite(hi) and hi > lo for lo, hi in pairs):
        raise InvalidInputError(f"each scale pair must be finite with high > low, got {pairs}")
    return pairs


def pixel_features(
    pixels: np.ndarray, scale: ChannelScale, spec: FeatureSpec = FeatureSpec()
) -> np.ndarray:
    """Features of every pixel of ``pixels`` (C, H, W): float32 (H, W, F), F = ``spec.n_features(C)``."""
    arr = check_pixels(pixels)
    channels, height, width = arr.shape
    pairs = check_scale(scale, channels)
    out = np.empty((height, width, spec.n_features(channels)), dtype=np.float32)
    k = 0
    for c in range(channels):
        lo, hi = pairs[c]
        plane = (arr[c].astype(np.float32) - np.float32(lo)) * np.float32(1.0 / (hi - lo))
        for sigma in spec.sigmas:
            k = _scale_features(plane, sigma, spec, out, k)
    return out


def _scale_features(plane: np.ndarray, sigma: float, spec: FeatureSpec, out: np.ndarray, k: int) -> int:
    g = ndimage.gaussian_filter(plane, sigma, mode="mirror", truncate=TRUNCATE)
    if spec.intensity:
        out[..., k] = g
        k += 1
    if not (spec.edges or spec.texture):
        return k
    p = np.pad(g, 1, mode="reflect")  # the mirror of the plane's border, as the Gaussian used
    centre = p[1:-1, 1:-1]
    gx = (p[1:-1, 2:] - p[1:-1, :-2]) * np.float32(0.5)
    gy = (p[2:, 1:-1] - p[:-2, 1:-1]) * np.float32(0.5)
    if spec.edges:
        out[..., k] = np.sqrt(gx * gx + gy * gy)
        k += 1
    if spec.texture:
        dxx = p[1:-1, 2:] + p[1:-1, :-2] - 2 * centre
        dyy = p[2:, 1:-1] + p[:-2, 1:-1] - 2 * centre
        dxy = (p[2:, 2:] - p[2:, :-2] - p[:-2, 2:] + p[:-2, :-2]) * np.float32(0.25)
        half_trace = (dxx + dyy) * np.float32(0.5)
        root = np.sqrt(((dxx - dyy) * np.float32(0.5)) ** 2 + dxy * dxy)
        out[..., k] = half_trace + root
        out[..., k + 1] = half_trace - root
        k += 2
    return k
