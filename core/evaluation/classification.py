"""Classification metrics from true classes and predicted probabilities.

LOCAL STAND-IN for helper A's module (issue 26), with the same interface and keys; the lead keeps helper
A's at merge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import InvalidInputError


def classification_metrics(
    truth: Sequence[int], probabilities: np.ndarray, class_names: Sequence[str]
) -> dict:
    """accuracy, balanced_accuracy, macro_f1, top2_accuracy, n, per_class (class, precision, recall, f1,
    support), confusion (K x K counts, rows = truth) and confusion_normalised (rows sum to 1; a row without
    examples is all 0). Macro-F1 leaves out a class with neither truth nor prediction; one with predictions
    but no truth counts as F1 0. Balanced accuracy is the mean recall of the classes with examples."""
    truth = np.asarray(truth, dtype=np.int64)
    probs = np.asarray(probabilities, dtype=np.float64)
    k = len(class_names)
    if probs.ndim != 2 or probs.shape != (len(truth), k):
        raise InvalidInputError(f"probabilities must be (N, K) = ({len(truth)}, {k}), got {probs.shape}")
    if len(truth) == 0:
        raise InvalidInputError("no examples to score; give at least one image with a known class")
    if truth.min() < 0 or truth.max() >= k:
        raise InvalidInputError(f"true classes must be 0..{k - 1}, got {sorted(set(truth.tolist()))}")
    predicted = probs.argmax(axis=1)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    tp = np.diag(confusion).astype(np.float64)
    support, n_pred = confusion.sum(axis=1), confusion.sum(axis=0)
    precision = np.divide(tp, n_pred, out=np.zeros(k), where=n_pred > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=precision + recall > 0)
    present = (support > 0) | (n_pred > 0)
    top2 = np.argsort(-probs, axis=1, kind="stable")[:, :2]
    rows = confusion.sum(axis=1, keepdims=True)
    normalised = np.divide(confusion, rows, out=np.zeros((k, k)), where=rows > 0)
    return {
        "accuracy": float(tp.sum() / len(truth)),
        "balanced_accuracy": float(recall[support > 0].mean()),
        "macro_f1": float(f1[present].mean()),
        "top2_accuracy": float(np.mean([t in row for t, row in zip(truth, top2, strict=True)])),
        "n": len(truth),
        "per_class": [
            {"class": str(name), "precision": float(precision[i]), "recall": float(recall[i]),
             "f1": float(f1[i]), "support": int(support[i])}
            for i, name in enumerate(class_names)
        ],
        "confusion": confusion.tolist(),
        "confusion_normalised": normalised.tolist(),
    }
