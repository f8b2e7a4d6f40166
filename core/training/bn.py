"""Precise batch-norm statistics before validation.

Running averages with momentum 0.1 lag behind weights that change fast (short trainings, high learning
rates), so an eval-mode forward can be far worse than the train-mode one. Before each validation the
running statistics are recomputed as the plain average over a few training batches with the current
weights (no gradient, weights unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

BN_TYPES = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)


def recalibrate_batchnorm(
    model: torch.nn.Module, batches: Iterable[torch.Tensor], *, autocast: Callable | None = None
) -> int:
    """Reset every BatchNorm's running mean/var and average them over ``batches`` ``(B, C, H, W)``.

    Returns the number of batches used (0 when the model has no BatchNorm: nothing is run).
    """
    norms = [m for m in model.modules() if isinstance(m, BN_TYPES)]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    used = 0
    try:
        with torch.no_grad():
            for x in batches:
                if autocast is None:
                    model(x)
                else:
                    with autocast():
                        model(x)
                used += 1
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)
    return used
