"""The learning-rate range test (the seed's "hyper-parameter tuning step").

A few dozen steps with the learning rate ramped exponentially from ``lr_min`` to ``lr_max``; the loss is
smoothed, the ramp stops when it explodes, and the pick is the rate of the lowest smoothed loss divided by
:data:`PICK_DIVISOR` (the usual "an order of magnitude before the minimum"), clamped to a safe range. The
model's weights are restored afterwards: the test only chooses the rate.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from core.errors import InvalidInputError

DEFAULT_LR = 1e-3
PICK_DIVISOR = 10.0
LR_FLOOR, LR_CEIL = 1e-4, 5e-3


@dataclass
class LrRangeResult:
    """The chosen rate and the curve it was chosen from (for the report)."""

    lr: float
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    reason: str = ""


def lr_range_test(
    model: torch.nn.Module,
    make_optimizer: Callable[[torch.nn.Module, float], torch.optim.Optimizer],
    step: Callable[[torch.optim.Optimizer, int], float],
    *,
    n_steps: int = 30,
    lr_min: float = 1e-5,
    lr_max: float = 1e-1,
    time_limit: float | None = None,
) -> LrRangeResult:
    """Run the test. ``step(optimizer, i)`` does one training step on batch ``i`` and returns its loss."""
    if not 0 < lr_min < lr_max or n_steps < 2:
        raise InvalidInputError(
            f"lr range test needs 0 < lr_min < lr_max and n_steps >= 2; got {lr_min}, {lr_max}, {n_steps}"
        )
    saved = copy.deepcopy(model.state_dict())
    optimizer = make_optimizer(model, lr_min)
    factor = (lr_max / lr_min) ** (1.0 / (n_steps - 1))
    start = time.monotonic()
    lrs: list[float] = []
    losses: list[float] = []
    smooth, best = 0.0, math.inf
    try:
        for i in range(n_steps):
            lr = lr_min * factor**i
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = float(step(optimizer, i))
            if not math.isfinite(loss):
                break
            smooth = 0.7 * smooth + 0.3 * loss
            value = smooth / (1 - 0.7 ** (i + 1))
            lrs.append(lr)
            losses.append(value)
            best = min(best, value)
            if i > 3 and value > 4 * best:
                break
            spent = time.monotonic() - start
            if time_limit is not None and spent + spent / (i + 1) > time_limit:
                break  # the next step would end past the limit
    finally:
        model.load_state_dict(saved)
    return _pick(lrs, losses)


def _pick(lrs: list[float], losses: list[float]) -> LrRangeResult:
    if len(losses) < 4:
        return LrRangeResult(DEFAULT_LR, lrs, losses, f"too few test steps ({len(losses)}): default rate")
    i_min = min(range(len(losses)), key=losses.__getitem__)
    if i_min == 0 or losses[i_min] > 0.98 * losses[0]:
        return LrRangeResult(DEFAULT_LR, lrs, losses, "the loss did not fall during the test: default rate")
    lr = min(max(lrs[i_min] / PICK_DIVISOR, LR_FLOOR), LR_CEIL)
    return LrRangeResult(lr, lrs, losses, f"lowest loss at lr {lrs[i_min]:.2e}; picked {lr:.2e}")
