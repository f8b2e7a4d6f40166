"""Input checks shared by the public functions of this package (validate once, then trust)."""

from __future__ import annotations

import numpy as np

from core.errors import InvalidInputError


def as_mask(value: object, name: str, *, ndim: int) -> np.ndarray:
    """Return ``value`` as a bool array of ``ndim`` dimensions; 0/1 integers are accepted."""
    arr = np.asarray(value)
    if arr.ndim != ndim:
        raise InvalidInputError(
            f"{name} must have {ndim} dimensions, got shape {arr.shape}; "
            f"pass one {'(L, H, W)' if ndim == 3 else '(H, W)'} array."
        )
    if arr.dtype == bool:
        return arr
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise InvalidInputError(
                f"{name} must be a mask of 0 and 1 (or bool), got values from {arr.min()} to {arr.max()}; "
                f"for an instance label image use `{name} > 0`."
            )
        return arr.astype(bool)
    raise InvalidInputError(
        f"{name} must be a bool mask, got dtype {arr.dtype}; threshold it first, e.g. `{name} > 0.5`."
    )


def as_labels(value: object, name: str) -> np.ndarray:
    """Return ``value`` as a non-negative integer (H, W) label image (0 = background)."""
    arr = np.asarray(value)
    if arr.ndim != 2:
        raise InvalidInputError(
            f"{name} must be an (H, W) label image, got shape {arr.shape}; pass one 2D image per call."
        )
    if arr.dtype == bool:
        return arr.astype(np.int32)
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(
            f"{name} must be an integer label image (0 = background, 1..N = objects), got dtype {arr.dtype}; "
            "label a mask with core.evaluation.postprocess.label_components or cast with .astype(np.int32)."
        )
    if arr.size and arr.min() < 0:
        raise InvalidInputError(
            f"{name} has negative labels (minimum {arr.min()}); labels must be 0 (background) or positive."
        )
    return arr


def as_prob(value: object, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``value`` as a float (H, W) map; checks the shape against ``shape`` when given."""
    arr = np.asarray(value)
    if arr.ndim != 2:
        raise InvalidInputError(f"{name} must be an (H, W) map, got shape {arr.shape}.")
    numeric = np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    if not (numeric or arr.dtype == bool):
        raise InvalidInputError(f"{name} must be numeric (probabilities in [0, 1]), got dtype {arr.dtype}.")
    if shape is not None and arr.shape != shape:
        raise InvalidInputError(f"{name} has shape {arr.shape}, expected {shape} like the other maps.")
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float32)
    return arr


def same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise InvalidInputError(
            f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}; they must cover the same pixels."
        )


def valid_mask(valid: object, shape: tuple[int, int]) -> np.ndarray | None:
    """Return the (H, W) bool mask of pixels that carry ground truth, or None for 'all pixels'."""
    if valid is None:
        return None
    mask = as_mask(valid, "valid", ndim=2)
    if mask.shape != shape:
        raise InvalidInputError(
            f"valid has shape {mask.shape}, expected {shape} (the image's height and width)."
        )
    return mask


def fraction(value: object, name: str) -> float:
    """A number in [0, 1] (thresholds)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a number between 0 and 1, got {value!r}.") from None
    if not 0.0 <= number <= 1.0:
        raise InvalidInputError(f"{name} must be between 0 and 1, got {number}.")
    return number


def size(value: object, name: str, *, minimum: int = 0) -> int:
    """A whole number of pixels, at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidInputError(f"{name} must be a whole number of pixels >= {minimum}, got {value!r}.")
    return int(value)
