"""Per-channel percentile normalisation, computed on the training images and stored in the model card.

``compute_normalization`` samples pixels through region reads (never a whole large image), pools them per
channel over all training images and takes the low/high percentiles. ``apply_normalization`` maps a
``(C, H, W)`` image to float32 with ``(x - low) / (high - low)``, the same everywhere (training,
validation, inference).

Scope ``"dataset"`` uses the training set's values for every image. Scope ``"image"`` (the StarDist
convention, better when brightness varies a lot between images) stores the same percentile levels and takes
each image's own values: :func:`image_normalization` for a readable image (sampled by regions when large),
:func:`apply_normalization` on a whole in-memory image. Scope ``"auto"`` (the default) picks "image" when
the training images' own bright levels spread over more than :data:`AUTO_SPREAD` of the dataset's range
(images from several microscopes or exposures), else "dataset"; the record keeps the scope chosen and why.

Nearly empty images (scope "image"). An image's own percentiles stretch whatever it holds to 0..1: an empty
field (background and noise only) would have its noise blown up into bright "objects". The record therefore
keeps the training images' own values as a reference (``"reference"``: per channel, the median over the
training images of each image's low and high percentile and of its stretch ``high - low``) and a floor on
the stretch, ``"stretch_floor"`` = :data:`FLOOR_FRACTION` x the median stretch. An image whose own stretch
is below the floor looks nearly empty: it is scaled with the training images' median stretch instead
(``(x - low) / reference stretch``, its own low), so its background and noise stay as dim as the training
images' background (a floor of only ``FLOOR_FRACTION`` x the stretch still lifted a trained model's
background into objects on BBBC039-like data). An image whose stretch is at or above the floor is
normalised exactly as without it. The rule is
applied by the same function in training, validation and inference (:func:`_with_values`); a record without
``"stretch_floor"`` (models trained before it existed) keeps the plain per-image stretch. The resolved
record of a floored image lists the channels in ``"floored"`` and :func:`floor_warning` says so in words.

Bit depths. The record keeps the pixel type its values are in (``"dtype"``, e.g. "uint8"; cards made before
it have the card's own ``dtype``, see :func:`card_normalization`). An image of another bit depth (a 16-bit
image for a model trained on 8-bit images) is scaled with its own percentiles at the record's levels, what
ever the scope: the training values are in another unit, and a 16-bit camera may fill 12 bits or 16, so
rescaling them by the types' ranges would guess. The stretch floor is measured in the training images'
unit, so it is not applied to such an image. The resolved record says so (``"depth"``) and
:func:`depth_warning` puts it in words. A training set that mixes bit depths is normalised per image
(scope "image", ``"mixed_depths"`` counts the images of each type); its pooled values, reference and floor
are those of its most common type (``"dtype"``), and its images of other types are scaled as above, in
training, validation and prediction alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from core.errors import InvalidInputError, ModelPackageError
from core.training.sources import ReadFn, TrainingImage

LOW_PERCENTILE = 1.0
HIGH_PERCENTILE = 99.8
_WINDOW = 512
_MAX_WINDOWS = 8
_MAX_SAMPLES_PER_IMAGE = 250_000


SCOPES = ("auto", "dataset", "image")
AUTO_SPREAD = 0.5
#: An image whose own stretch (high - low percentile) is below this share of the training images' median
#: stretch is scaled with that median stretch instead (scope "image"; see the module docstring).
FLOOR_FRACTION = 0.25


def compute_normalization(
    images: Sequence[TrainingImage],
    *,
    low: float = LOW_PERCENTILE,
    high: float = HIGH_PERCENTILE,
    seed: int = 0,
    scope: str = "dataset",
) -> dict:
    """The normalisation record of a training set: ``{"method", "scope", "low_percentile",
    "high_percentile", "low": [per channel], "high": [per channel], "reference": {"low", "high",
    "stretch": [per channel], "images": int}, "floor_fraction": float, "stretch_floor": [per channel]}``
    (plain JSON types; with scope "image" low/high are the training set's values, kept for reference;
    ``reference`` holds the medians over the training images of their own values)."""
    if scope not in SCOPES:
        raise InvalidInputError(f"normalisation scope {scope!r} is not known; use one of {list(SCOPES)}")
    if not images:
        raise InvalidInputError("no training image given; normalisation needs at least one image")
    if not 0 <= low < high <= 100:
        raise InvalidInputError(f"percentiles low={low}, high={high} must satisfy 0 <= low < high <= 100")
    channels = {im.channels for im in images}
    if len(channels) != 1:
        raise InvalidInputError(
            f"training images have different channel counts {sorted(channels)}; use images with the same channels"
        )
    rng = np.random.default_rng(seed)
    every_pool = [_sample_pixels(im.shape, im.read, rng) for im in images]
    depths = Counter(str(np.dtype(im.dtype)) for im in images)
    main = max(depths, key=depths.__getitem__)  # the most common type (the first of equals)
    pools = [p for p, im in zip(every_pool, images, strict=True) if str(np.dtype(im.dtype)) == main]
    values = np.concatenate(pools, axis=1).astype(np.float64)
    lo = np.percentile(values, low, axis=1)
    hi = np.percentile(values, high, axis=1)
    hi = np.where(hi - lo < 1e-6, lo + 1.0, hi)  # a flat channel maps to 0 instead of dividing by zero
    record = {
        "method": "percentile",
        "scope": scope,
        "low_percentile": float(low),
        "high_percentile": float(high),
        "low": [float(v) for v in lo],
        "high": [float(v) for v in hi],
        "dtype": main,
        **_reference(pools, low, high),
    }
    if len(depths) > 1:  # values of several units cannot be pooled: each image is scaled with its own
        record["scope"] = "image"
        record["mixed_depths"] = dict(sorted(depths.items()))
    elif scope == "auto":
        spread = brightness_spread(pools, high, lo, hi)
        record["scope"] = "image" if spread > AUTO_SPREAD else "dataset"
        record["auto"] = {"spread": round(spread, 4), "limit": AUTO_SPREAD}
    return record


def _reference(pools: Sequence[np.ndarray], low: float, high: float) -> dict:
    """The training images' own values (medians over the images, per channel) and the stretch floor."""
    own = [_percentiles(p.astype(np.float64), low, high) for p in pools]
    lows = np.stack([lo for lo, _ in own])  # (images, C)
    highs = np.stack([hi for _, hi in own])
    stretch = np.median(highs - lows, axis=0)
    return {
        "reference": {
            "low": [float(v) for v in np.median(lows, axis=0)],
            "high": [float(v) for v in np.median(highs, axis=0)],
            "stretch": [float(v) for v in stretch],
            "images": len(pools),
        },
        "floor_fraction": FLOOR_FRACTION,
        "stretch_floor": [float(v) for v in FLOOR_FRACTION * stretch],
    }


def brightness_spread(pools: Sequence[np.ndarray], high: float, lo: np.ndarray, hi: np.ndarray) -> float:
    """How far the images' own bright levels (``high`` percentile of each image) spread, as a share of the
    dataset's range ``hi - lo``; the largest over channels. 0 for a single image."""
    if len(pools) < 2:
        return 0.0
    tops = np.stack([np.percentile(p.astype(np.float64), high, axis=1) for p in pools])  # (images, C)
    return float(np.max((tops.max(axis=0) - tops.min(axis=0)) / (hi - lo)))


def image_normalization(im: TrainingImage, norm: dict, *, seed: int = 0) -> dict:
    """The record to apply to the pixels of ``im``: ``norm`` itself (scope dataset) or ``norm`` with this
    image's own percentile values (scope image, sampled through region reads when the image is large)."""
    return region_normalization(im.shape, im.read, norm, seed=seed)


def region_normalization(shape: Sequence[int], read: ReadFn, norm: dict, *, seed: int = 0) -> dict:
    """:func:`image_normalization` of any image of ``shape`` ``(C, H, W)`` read by ``read(y, x, h, w)``
    (training images, and images being predicted: one record for the whole image, applied to each region).
    With scope "dataset" an image of another pixel type than the record's is resolved as well (its own
    percentiles; see "Bit depths" above)."""
    if norm.get("scope", "dataset") != "image" and not _other_depth(norm, np.asarray(read(0, 0, 1, 1)).dtype):
        return norm
    values = _sample_pixels(tuple(int(v) for v in shape), read, np.random.default_rng(seed))
    return _resolve(norm, values)


def apply_normalization(image: np.ndarray, norm: dict) -> np.ndarray:
    """``(C, H, W)`` any dtype -> float32 ``(C, H, W)`` scaled so that the percentiles map to 0 and 1.

    Scope "image": the percentiles of this very image (pass the whole image, or use
    :func:`image_normalization` and apply its record to regions with scope "dataset").
    """
    if norm.get("scope", "dataset") == "image" or _other_depth(norm, image.dtype):
        norm = _resolve(norm, _subsample(np.asarray(image).reshape(image.shape[0], -1)))
    low, high = _check_norm(norm, image)
    out = image.astype(np.float32, copy=True)
    out -= low[:, None, None]
    out *= (1.0 / (high - low))[:, None, None]
    return out


def floor_warning(record: dict) -> str | None:
    """A sentence for the user when ``record`` (resolved for one image) was floored, else None."""
    floored = record.get("floored") or []
    if not floored:
        return None
    parts = [
        f"channel {c + 1}: range {record['own_stretch'][c]:.4g}, training images typically "
        f"{record['reference']['stretch'][c]:.4g}"
        for c in floored
    ]
    share = float(record.get("floor_fraction", FLOOR_FRACTION))
    return (
        "this image looks nearly empty compared with the training images (its intensity range is under "
        f"{share:.0%} of theirs; {'; '.join(parts)}); it was scaled with the training images' typical range "
        "instead of its own, so that its background noise is not stretched into objects"
    )


def depth_warning(record: dict) -> str | None:
    """A sentence for the user when ``record`` (resolved for one image) is for an image of another bit
    depth than the training images', else None."""
    depth = record.get("depth")
    if not depth:
        return None
    levels = f"percentiles {record['low_percentile']:g} and {record['high_percentile']:g}"
    return (
        f"this image is {depth['image']} while the model was trained on {depth['model']} images; it was "
        f"scaled with its own {levels} (as every image is scaled to 0..1 before the network), so the bit "
        "depth does not matter; the check for nearly empty images was skipped (it is measured in the "
        f"training images' {depth['model']} units)"
    )


def card_normalization(card: dict) -> dict:
    """The card's normalisation record with the training images' pixel type (``"dtype"``), which cards
    made before the record kept it have at the card's top level (None when neither says)."""
    norm = card["normalization"]
    if norm.get("dtype") is None and card.get("dtype", card.get("input_dtype")) is not None:
        return {**norm, "dtype": str(card.get("dtype", card.get("input_dtype")))}
    return norm


def _other_depth(norm: dict, dtype: object) -> bool:
    """Whether pixels of ``dtype`` are of another type than the values of ``norm``."""
    want = norm.get("dtype")
    return want is not None and np.dtype(dtype) != np.dtype(str(want))


def _resolve(norm: dict, values: np.ndarray) -> dict:
    """``norm`` resolved with the image's own sampled ``values`` (C, N) in their own dtype: its own
    percentiles (with the stretch floor where the record has one and the image is of the record's type;
    without it, and marked ``"depth"``, for an image of another type)."""
    dtype = str(values.dtype)
    if not _other_depth(norm, dtype):
        return _with_values(norm, values.astype(np.float64))
    plain = {k: v for k, v in norm.items() if k != "stretch_floor"}
    resolved = _with_values(plain, values.astype(np.float64))
    resolved["depth"] = {"model": str(norm["dtype"]), "image": dtype, "scope": norm.get("scope", "dataset")}
    resolved["dtype"] = dtype  # the resolved values are in this image's unit (its regions apply them as is)
    return resolved


def _percentiles(values: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``low`` and ``high`` percentiles of ``values`` (C, N); a flat channel gets
    high = low + 1."""
    lo = np.percentile(values, low, axis=1)
    hi = np.percentile(values, high, axis=1)
    return lo, np.where(hi - lo < 1e-6, lo + 1.0, hi)


def _with_values(norm: dict, values: np.ndarray) -> dict:
    """``norm`` with scope "dataset" and low/high taken from ``values`` (C, N); where the record has a
    ``stretch_floor`` and a channel's own stretch is below it, high = low + the training images' median
    stretch (the channel is listed in ``floored``)."""
    lo, hi = _percentiles(values, norm["low_percentile"], norm["high_percentile"])
    resolved = {**norm, "scope": "dataset", "low": [float(v) for v in lo]}
    floor = norm.get("stretch_floor")
    if floor is not None:
        floor = np.asarray(floor, dtype=np.float64)
        typical = np.asarray((norm.get("reference") or {}).get("stretch", []), dtype=np.float64)
        if floor.shape != lo.shape or typical.shape != lo.shape:
            raise ModelPackageError(
                f"the normalisation record's stretch_floor {norm['stretch_floor']!r} and reference stretch "
                f"{typical.tolist()} must have one value per channel ({lo.size}); "
                "retrain or repair the model card"
            )
        own = hi - lo
        below = own < floor
        hi = np.where(below, lo + typical, hi)
        resolved["own_stretch"] = [float(v) for v in own]
        resolved["floored"] = [int(c) for c in np.flatnonzero(below)]
    resolved["high"] = [float(v) for v in hi]
    return resolved


def sample_pixels(shape: Sequence[int], read: ReadFn, *, seed: int = 0) -> np.ndarray:
    """``(C, N)`` pixel values of an image of ``shape`` ``(C, H, W)`` read by ``read(y, x, h, w)``, sampled
    as the normalisation samples them (the whole image when small, else random windows; at most about
    :data:`_MAX_SAMPLES_PER_IMAGE` columns), in the image's own pixel type."""
    return _sample_pixels(tuple(int(v) for v in shape), read, np.random.default_rng(seed))


def _sample_pixels(shape: tuple[int, ...], read: ReadFn, rng: np.random.Generator) -> np.ndarray:
    """(C, N) pixel values of one image: the whole image when small, else random windows."""
    c, h, w = shape
    if h * w <= _WINDOW * _WINDOW * _MAX_WINDOWS:
        windows = [read(0, 0, h, w)]
    else:
        windows = []
        for _ in range(_MAX_WINDOWS):
            y = int(rng.integers(0, max(h - _WINDOW, 0) + 1))
            x = int(rng.integers(0, max(w - _WINDOW, 0) + 1))
            windows.append(read(y, x, min(_WINDOW, h), min(_WINDOW, w)))
    flat = np.concatenate([np.asarray(win).reshape(c, -1) for win in windows], axis=1)
    return _subsample(flat)


def _subsample(flat: np.ndarray) -> np.ndarray:
    """At most about _MAX_SAMPLES_PER_IMAGE evenly strided columns of (C, N) (the same rule everywhere)."""
    if flat.shape[1] > _MAX_SAMPLES_PER_IMAGE:
        flat = flat[:, :: flat.shape[1] // _MAX_SAMPLES_PER_IMAGE + 1]
    return flat


def _check_norm(norm: dict, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        low = np.asarray(norm["low"], dtype=np.float32)
        high = np.asarray(norm["high"], dtype=np.float32)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelPackageError(
            f"normalisation record {norm!r} lacks per-channel 'low'/'high' lists; retrain or repair the model card"
        ) from exc
    if image.ndim != 3 or image.shape[0] != low.shape[0] or high.shape != low.shape:
        raise InvalidInputError(
            f"image of shape {image.shape} does not fit a normalisation for {low.shape[0]} channel(s); "
            f"expected (C={low.shape[0]}, H, W)"
        )
    return low, high
