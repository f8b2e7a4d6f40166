"""Label renumbering shared by the metrics and the targets."""

from __future__ import annotations

import numpy as np


def compact_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber labels 1..N (0 stays background); returns (original ids of 1..N, renumbered image).

    Labels that are already 1..N come back as they are (not copied); callers must not write to them.
    """
    if labels.size == 0:
        return np.zeros(0, dtype=np.int64), labels.astype(np.intp)
    top = int(labels.max())
    if top <= 4 * labels.size + 1024:
        flat = labels.ravel()
        if flat.dtype == np.uint64:  # np.bincount refuses uint64; the values fit in int64 here
            flat = flat.astype(np.int64)
        present = np.bincount(flat, minlength=top + 1) > 0
        present[0] = False
        ids = np.flatnonzero(present)
        if len(ids) == top and labels.dtype != np.uint64:
            return ids, labels  # already 1..N: no renumbering needed
        lut = np.zeros(top + 1, dtype=np.intp)
        lut[ids] = np.arange(1, len(ids) + 1)
        return ids, lut[labels]
    ids, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(labels.shape)
    if ids[0] == 0:
        return ids[1:], inverse.astype(np.intp)
    return ids, inverse.astype(np.intp) + 1
