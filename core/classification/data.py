"""The examples in memory, fitted once (read, resized, normalised:
:func:`~core.classification.fitting.fit_image`), and the order in which the training draws them.

Every example is read once and kept as float16 ``(C, S, S)``: ``2 * C * S * S`` bytes each (24 KB for an RGB
example at 64 px), so that an epoch costs network time only. The training's batches come from one stream:
the seeded permutations of the training examples, one after the other; the batch of step ``s`` is its
``s``-th slice, so a resumed training draws exactly the batches it would have drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.classification.examples import ClassExample, read_checked
from core.classification.fitting import fit_with_levels


@dataclass
class FittedSet:
    """Fitted examples ``x`` float16 ``(N, C, S, S)``, their class indices ``y`` int64 ``(N,)``, keys, and
    each example's own normalisation levels ``low``/``high`` float64 ``(N, C)``."""

    x: torch.Tensor
    y: torch.Tensor
    keys: list[str]
    low: np.ndarray
    high: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


def fit_examples(
    examples: Sequence[ClassExample],
    size: int,
    *,
    on_example: Callable[[int], bool] | None = None,
) -> FittedSet | None:
    """Read and fit every example. ``on_example(i)`` is called after each; when it returns True the fitting
    stops and None is returned (a cancelled training)."""
    c = examples[0].channels
    x = torch.empty((len(examples), c, size, size), dtype=torch.float16)
    low, high = np.zeros((len(examples), c)), np.zeros((len(examples), c))
    for i, ex in enumerate(examples):
        fitted, low[i], high[i] = fit_with_levels(read_checked(ex), size)
        x[i] = torch.from_numpy(fitted)
        if on_example is not None and on_example(i):
            return None
    y = torch.tensor([int(ex.label) for ex in examples], dtype=torch.int64)
    return FittedSet(x, y, [ex.key for ex in examples], low, high)


def batch_indices(step: int, n: int, batch_size: int, seed: int) -> np.ndarray:
    """The example indices of training step ``step``: the ``step``-th slice of ``batch_size`` of the stream
    of seeded permutations of ``range(n)`` (each permutation is one pass over the examples)."""
    start = step * batch_size
    out: list[np.ndarray] = []
    need = batch_size
    while need > 0:
        epoch, offset = divmod(start, n)
        perm = np.random.default_rng([seed, 11, epoch]).permutation(n)
        take = perm[offset : offset + need]
        out.append(take)
        need -= len(take)
        start += len(take)
    return np.concatenate(out)


def class_weights(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Loss weight per class: inversely proportional to the square root of its share of the training
    examples, scaled so that the examples' mean weight is 1 (a class without training example: 1)."""
    counts = torch.bincount(y, minlength=n_classes).double()
    inverse = (counts.sum() / (n_classes * counts.clamp_min(1))) ** 0.5
    weights = torch.where(counts > 0, inverse, torch.ones_like(counts))
    mean = (weights[y].mean()).item() if len(y) else 1.0
    return (weights / mean).float()
