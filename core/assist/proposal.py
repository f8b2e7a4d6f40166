"""What the scribble forest proposes for a region: class probabilities, the class map and its uncertainty.

Class index 0 is background and class index k (1..K-1) is the label ``label_ids[k - 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import InvalidInputError


@dataclass
class Proposal:
    """``probabilities`` float32 (K, H, W) summing to 1 per pixel (0 for classes without strokes),
    ``classes`` uint8 (H, W) argmax class index, ``uncertainty`` float32 (H, W) in [0, 1]
    (1 - (p_top - p_second): 0 = sure, 1 = a tie), ``label_ids`` the database label of each class >= 1."""

    probabilities: np.ndarray
    classes: np.ndarray
    uncertainty: np.ndarray
    label_ids: tuple[int, ...]

    @classmethod
    def from_probabilities(cls, probabilities: np.ndarray, label_ids: tuple[int, ...]) -> Proposal:
        probs = np.asarray(probabilities, dtype=np.float32)
        if probs.ndim != 3 or probs.shape[0] != 1 + len(label_ids):
            raise InvalidInputError(
                f"probabilities must be (K, H, W) with K = 1 + {len(label_ids)} labels, "
                f"got shape {probs.shape}"
            )
        classes = np.argmax(probs, axis=0).astype(np.uint8)
        if probs.shape[0] == 1:
            uncertainty = np.zeros(probs.shape[1:], dtype=np.float32)
        else:
            top2 = np.partition(probs, -2, axis=0)[-2:]
            uncertainty = np.clip(1 - (top2[1] - top2[0]), 0, 1).astype(np.float32)
        return cls(probs, classes, uncertainty, tuple(label_ids))

    @property
    def shape(self) -> tuple[int, int]:
        return self.classes.shape  # type: ignore[return-value]

    def fractions(self) -> dict[int, float]:
        """Share of the region given to each class index (for a caption such as "12 % mitochondria")."""
        counts = np.bincount(self.classes.ravel(), minlength=self.probabilities.shape[0])
        total = max(int(self.classes.size), 1)
        return {k: float(c) / total for k, c in enumerate(counts)}


# Accepting a proposal lives in core.assist.shapes; importable from here too, next to the Proposal it accepts.
from core.assist.shapes import proposal_to_shapes  # noqa: E402

__all__ = ["Proposal", "proposal_to_shapes"]
