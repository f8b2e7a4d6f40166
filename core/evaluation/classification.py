"""Scores of a classifier on examples with a known class: accuracy, balanced accuracy, macro-F1, top-2
accuracy, per-class precision / recall / F1 and the confusion matrix (counts and row-normalised).

Minimal version written for the journey branch (issue 26); the engine's owner provides the full module with
the same signature and keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import InvalidInputError


def classification_metrics(
    truth: Sequence[int], probabilities: np.ndarray, class_names: Sequence[str]
) -> dict:
    """Scores of ``probabilities`` ``(N, K)`` against ``truth`` (N class indices). None = not defined.

    A class with neither true examples nor predictions is left out of the macro-F1; one with predictions
    but no true examples counts as F1 0."""
    truth_arr = np.asarray(truth, dtype=np.int64).reshape(-1)
    probs = np.asarray(probabilities, dtype=np.float64)
    k = len(class_names)
    if probs.ndim != 2 or probs.shape != (len(truth_arr), k):
        raise InvalidInputError(
            f"probabilities must be (N, K) = ({len(truth_arr)}, {k}) for {len(truth_arr)} examples and "
            f"{k} classes, got {probs.shape}"
        )
    if truth_arr.size and (truth_arr.min() < 0 or truth_arr.max() >= k):
        raise InvalidInputError(f"truth holds class indices outside 0..{k - 1}")
    predicted = probs.argmax(axis=1) if len(truth_arr) else np.zeros(0, dtype=np.int64)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (truth_arr, predicted), 1)
    support = confusion.sum(axis=1)
    called = confusion.sum(axis=0)
    tp = np.diag(confusion)
    per_class, f1s, recalls = [], [], []
    for i, name in enumerate(class_names):
        precision = float(tp[i] / called[i]) if called[i] else None
        recall = float(tp[i] / support[i]) if support[i] else None
        if support[i] == 0 and called[i] == 0:
            f1 = None
        elif tp[i] == 0:
            f1 = 0.0
        else:
            f1 = float(2 * tp[i] / (support[i] + called[i]))
        per_class.append({"class": str(name), "precision": precision, "recall": recall, "f1": f1,
                          "support": int(support[i])})
        if f1 is not None:
            f1s.append(f1)
        if recall is not None:
            recalls.append(recall)
    n = len(truth_arr)
    top2 = None
    if n:
        order = np.argsort(-probs, axis=1)[:, : min(2, k)]
        top2 = float(np.mean([t in row for t, row in zip(truth_arr, order, strict=True)]))
    rows = confusion.sum(axis=1, keepdims=True)
    normalised = np.divide(confusion, rows, out=np.zeros((k, k), dtype=np.float64), where=rows > 0)
    return {
        "accuracy": float(tp.sum() / n) if n else None,
        "balanced_accuracy": float(np.mean(recalls)) if recalls else None,
        "macro_f1": float(np.mean(f1s)) if f1s else None,
        "top2_accuracy": top2,
        "n": n,
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "confusion_normalised": normalised.tolist(),
    }
