"""The bioimage.io pre- and post-processing steps segstudio runs for imported models, arrays in, arrays out.

:func:`check_steps` reads a description's steps (``[{"id", "kwargs"}]``, never trusted) into plain steps:

* ``{"op": "affine", "gain": [per channel], "offset": [per channel]}`` (``scale_linear``,
  ``fixed_zero_mean_unit_variance``: ``(x - mean) / (std + eps)``);
* ``{"op": "range", "low", "high", "eps", "joint"}``: ``scale_range``, ``(x - p_low) / (p_high - p_low +
  eps)`` with the image's percentiles, per channel or over all channels (``joint``);
* ``{"op": "standardize", "eps", "joint"}``: ``zero_mean_unit_variance``, ``(x - mean) / (std + eps)``;
* ``{"op": "clip", "min", "max"}`` (numbers or None) or with the image's percentiles (``"min_percentile"``,
  ``"max_percentile"``, ``"joint"``); ``{"op": "cast", "dtype"}`` (``ensure_dtype``);
* outputs only: ``{"op": "sigmoid"}``, ``{"op": "softmax"}`` (along the channel axis),
  ``{"op": "binarize", "threshold": [per channel]}``.

Pre-processing that needs an image's statistics is resolved once per image (:func:`resolve`, on pixels
sampled from the whole image, as segstudio's own normalisation is) into fixed steps, which
:func:`apply_fixed` then applies to every region of it, so that tiles of one image are normalised alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from core.errors import ModelPackageError

PREPROCESSING = ("ensure_dtype", "scale_linear", "fixed_zero_mean_unit_variance", "scale_range",
                 "zero_mean_unit_variance", "clip")
POSTPROCESSING = ("sigmoid", "softmax", "ensure_dtype", "scale_linear", "fixed_zero_mean_unit_variance",
                  "clip", "binarize")
DTYPES = ("float32", "float64", "uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64",
          "bool")
#: the steps that need the image's statistics (resolved once per image)
STATISTICS = ("range", "standardize")
MAX_STEPS = 16


def check_steps(raw: object, allowed: Sequence[str], *, where: str, axes: Sequence[str], channels: int,
                tensor_id: str) -> tuple[dict, ...]:
    """The plain steps of a tensor's ``raw`` processing list (see the module docstring)."""
    if not isinstance(raw, list) or len(raw) > MAX_STEPS:
        raise _bad(f"the processing of its {where} is {_short(raw)}; expected a list of at most {MAX_STEPS} "
                   "steps")
    steps = []
    for index, step in enumerate(raw):
        if not isinstance(step, dict) or not isinstance(step.get("id"), str):
            raise _bad(f"step {index + 1} of its {where}'s processing is {_short(step)}, not a step")
        name = step["id"]
        if name not in allowed:
            raise _bad(f"its {where} uses the processing step {name!r}, which segstudio does not run "
                       f"(it runs {', '.join(allowed)})")
        kwargs = step.get("kwargs") or {}
        if not isinstance(kwargs, dict):
            raise _bad(f"the step {name!r} of its {where} has kwargs {_short(kwargs)}, not a mapping")
        reader = _StepReader(name, kwargs, where=where, axes=axes, channels=channels, tensor_id=tensor_id,
                             statistics="scale_range" in allowed)
        steps.append(getattr(reader, name)())
    return tuple(steps)


def resolve(steps: Sequence[dict], values: np.ndarray) -> list[dict]:
    """The fixed steps of ``steps`` for one image whose sampled pixels are ``values`` ``(C, N)``: statistics
    taken in turn, each step applied to the values before the next one's statistics."""
    fixed = []
    current = np.asarray(values, dtype=np.float64)
    for step in steps:
        step = _fixed(step, current)
        current = _apply(step, current[:, :, None])[:, :, 0]
        fixed.append(step)
    return fixed


def apply_fixed(image: np.ndarray, steps: Sequence[dict]) -> np.ndarray:
    """float32 ``(C, H, W)``: ``image`` ``(C, H, W)`` through fixed steps (:func:`resolve`)."""
    out = np.asarray(image, dtype=np.float64)
    for step in steps:
        out = _apply(step, out)
    return out.astype(np.float32)


def apply_output(tensor: torch.Tensor, steps: Sequence[dict]) -> torch.Tensor:
    """float32 ``(N, C, H, W)``: a network output through its post-processing steps (fixed values only)."""
    out = tensor.float()
    for step in steps:
        op = step["op"]
        if op == "sigmoid":
            out = torch.sigmoid(out)
        elif op == "softmax":
            out = torch.softmax(out, dim=1)
        elif op == "binarize":
            out = (out > _column(step["threshold"], out)).float()
        elif op == "affine":
            out = out * _column(step["gain"], out) + _column(step["offset"], out)
        elif op == "clip":
            out = out.clamp(min=step["min"], max=step["max"])
        elif op == "cast":
            out = _torch_cast(out, step["dtype"])
    return out.float()


# Reading the steps ---------------------------------------------------------------------------------------
class _StepReader:
    """Reads one step's kwargs; a method per step id, each returning the plain step."""

    def __init__(self, name: str, kwargs: dict, *, where: str, axes: Sequence[str], channels: int,
                 tensor_id: str, statistics: bool) -> None:
        self.name, self.kwargs, self.where = name, kwargs, where
        self.axes, self.channels, self.tensor_id = tuple(axes), channels, tensor_id
        self.statistics = statistics  # steps may take the image's statistics (pre-processing)

    def ensure_dtype(self) -> dict:
        dtype = self.kwargs.get("dtype")
        if dtype not in DTYPES:
            raise self._bad("dtype", dtype, f"one of {list(DTYPES)}")
        return {"op": "cast", "dtype": dtype}

    def scale_linear(self) -> dict:
        return {"op": "affine", "gain": self._per_channel("gain", 1.0),
                "offset": self._per_channel("offset", 0.0)}

    def fixed_zero_mean_unit_variance(self) -> dict:
        mean, std = self._per_channel("mean", None), self._per_channel("std", None)
        eps = self._number("eps", 1e-6)
        if any(s + eps <= 0 for s in std):
            raise self._bad("std", self.kwargs.get("std"), "positive numbers")
        return {"op": "affine", "gain": [1.0 / (s + eps) for s in std],
                "offset": [-m / (s + eps) for m, s in zip(mean, std, strict=True)]}

    def scale_range(self) -> dict:
        low, high = self._number("min_percentile", 0.0), self._number("max_percentile", 100.0)
        if not 0 <= low < high <= 100:
            raise self._bad("max_percentile", high, f"a percentile above min_percentile ({low}), at most 100")
        reference = self.kwargs.get("reference_tensor")
        if reference not in (None, self.tensor_id):
            raise _bad(f"the scale_range of its {self.where} takes its percentiles from another tensor "
                       f"({reference!r}); segstudio takes them from the tensor itself")
        return {"op": "range", "low": low, "high": high, "eps": self._number("eps", 1e-6),
                "joint": self._joint()}

    def zero_mean_unit_variance(self) -> dict:
        return {"op": "standardize", "eps": self._number("eps", 1e-6), "joint": self._joint()}

    def clip(self) -> dict:
        step = {"op": "clip", "min": self._optional("min"), "max": self._optional("max")}
        percentiles = {k: self._optional(k) for k in ("min_percentile", "max_percentile")}
        if any(v is not None for v in percentiles.values()):
            if not self.statistics:
                raise _bad(f"the clip of its {self.where} uses percentiles; segstudio clips outputs at fixed "
                           "values only")
            step.update(percentiles, joint=self._joint())
        return step

    def sigmoid(self) -> dict:
        return {"op": "sigmoid"}

    def softmax(self) -> dict:
        axis = self.kwargs.get("axis", "channel")
        if axis != "channel":
            raise self._bad("axis", axis, "'channel' (segstudio runs softmax along the channel axis)")
        return {"op": "softmax"}

    def binarize(self) -> dict:
        return {"op": "binarize", "threshold": self._per_channel("threshold", None)}

    # values
    def _number(self, key: str, default: float | None) -> float:
        value = self.kwargs.get(key, default)
        if not _finite(value):
            raise self._bad(key, value, "a finite number")
        return float(value)

    def _optional(self, key: str) -> float | None:
        return None if self.kwargs.get(key) is None else self._number(key, None)

    def _per_channel(self, key: str, default: float | None) -> list[float]:
        value = self.kwargs.get(key, default)
        if isinstance(value, list):
            if self.kwargs.get("axis") != "channel" or len(value) not in (1, self.channels):
                raise self._bad(key, value, f"one number, or one per channel ({self.channels}) with axis "
                                "'channel'")
            values = value if len(value) == self.channels else value * self.channels
        else:
            values = [value] * self.channels
        if not all(_finite(v) for v in values):
            raise self._bad(key, value, "finite numbers")
        return [float(v) for v in values]

    def _joint(self) -> bool:
        """Statistics over all channels together (axes absent, or naming the channel axis) or per channel."""
        axes = self.kwargs.get("axes")
        if axes is None:
            return True
        if not isinstance(axes, list) or not all(isinstance(a, str) for a in axes):
            raise self._bad("axes", axes, "a list of axis ids")
        known = {"batch", "channel", "y", "x"}
        if not set(axes) <= known or not {"y", "x"} <= set(axes):
            raise self._bad("axes", axes, "axes among batch, channel, y, x that include y and x")
        return "channel" in axes or "channel" not in self.axes

    def _bad(self, key: str, value: object, expected: str) -> ModelPackageError:
        return _bad(f"the {self.name} of its {self.where} has {key}={_short(value)}; expected {expected}")


# Statistics and application ------------------------------------------------------------------------------
def _fixed(step: dict, values: np.ndarray) -> dict:
    """``step`` with the statistics of ``values`` ``(C, N)`` written in (a step that needs none as it is)."""
    op = step["op"]
    if op == "range":
        low, high = _stat(values, step["joint"], lambda v, axis: np.percentile(v, [step["low"], step["high"]],
                                                                                 axis=axis))
        scale = 1.0 / (high - low + step["eps"])
        return {"op": "affine", "gain": list(scale), "offset": list(-low * scale)}
    if op == "standardize":
        mean, std = _stat(values, step["joint"],
                          lambda v, axis: np.stack([v.mean(axis=axis), v.std(axis=axis)]))
        scale = 1.0 / (std + step["eps"])
        return {"op": "affine", "gain": list(scale), "offset": list(-mean * scale)}
    if op == "clip" and ("min_percentile" in step):
        levels = [step.get("min_percentile") or 0.0, step.get("max_percentile") or 100.0]
        low, high = _stat(values, step["joint"], lambda v, axis: np.percentile(v, levels, axis=axis))
        return {"op": "clip",
                "min": list(low) if step.get("min_percentile") is not None else step["min"],
                "max": list(high) if step.get("max_percentile") is not None else step["max"]}
    return step


def _stat(values: np.ndarray, joint: bool, measure) -> tuple[np.ndarray, np.ndarray]:
    """Two statistics per channel (each ``(C,)``): over all channels together when ``joint``."""
    if joint:
        first, second = measure(values.reshape(-1), None)
        return np.full(values.shape[0], first), np.full(values.shape[0], second)
    first, second = measure(values, 1)
    return np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)


def _apply(step: dict, x: np.ndarray) -> np.ndarray:
    """A fixed step on ``x`` ``(C, H, W)`` (float64)."""
    op = step["op"]
    if op == "affine":
        return x * _channel_column(step["gain"]) + _channel_column(step["offset"])
    if op == "clip":
        low = None if step["min"] is None else _channel_column(step["min"])
        high = None if step["max"] is None else _channel_column(step["max"])
        return np.clip(x, low, high)
    if op == "cast":
        if step["dtype"].startswith(("float", "bool")):
            return x.astype(step["dtype"]).astype(np.float64)
        info = np.iinfo(np.dtype(step["dtype"]))
        return np.clip(np.trunc(np.nan_to_num(x)), info.min, info.max)
    raise ModelPackageError(f"the step {op!r} needs the image's statistics; resolve it first")


def _channel_column(values: object) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1, 1)


def _column(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(values, dtype=like.dtype, device=like.device).reshape(1, -1, 1, 1)


def _torch_cast(x: torch.Tensor, dtype: str) -> torch.Tensor:
    if dtype.startswith("float"):
        return x
    if dtype == "bool":
        return (x != 0).float()
    info = np.iinfo(np.dtype(dtype))
    return torch.nan_to_num(x).trunc().clamp(float(info.min), float(info.max))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bad(reason: str) -> ModelPackageError:
    return ModelPackageError(f"this bioimage.io package cannot be used: {reason}")
