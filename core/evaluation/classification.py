"""Image classification metrics: one class per example, the probabilities of every class.

Two stages, like the other metrics: count (the confusion matrix, rows = true class, columns = predicted
class; counts of several batches add up), then reduce once (:func:`metrics_from_confusion`).

* accuracy: share of examples whose most probable class is the true one;
* balanced accuracy: the mean over classes of their recall (the classes that have examples);
* macro-F1: the mean of the per-class F1. A class with no true example and no prediction is left out of
  the mean (nothing to score); a class with predictions but no true example counts as F1 0 (every one of
  its predictions is wrong); a class with true examples but no prediction counts as F1 0 too;
* top-2 accuracy: share of examples whose true class is among the two most probable (the classes' order
  breaks ties, as ``argmax`` does);
* per class: precision, recall, F1 (None where undefined: precision of a class never predicted, recall of
  a class without examples) and support (true examples);
* the confusion matrix as counts and normalised by rows (each row sums to 1; a row with no examples is 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import InvalidInputError


def classification_metrics(
    truth: Sequence[int], probabilities: np.ndarray, class_names: Sequence[str]
) -> dict:
    """Metrics of predicted class ``probabilities`` ``(N, K)`` against ``truth`` (N class indices into
    ``class_names``). Returns ``{"accuracy", "balanced_accuracy", "macro_f1", "top2_accuracy", "n",
    "per_class": [{"class", "precision", "recall", "f1", "support"}], "confusion": K x K counts (rows =
    truth), "confusion_normalised": rows sum to 1}`` (plain Python types, ready for JSON)."""
    y, probs, names = _checked(truth, probabilities, class_names)
    k = len(names)
    pred = probs.argmax(axis=1) if len(y) else np.zeros(0, dtype=np.int64)
    out = metrics_from_confusion(confusion_matrix(y, pred, k), names)
    out["top2_accuracy"] = top_k_accuracy(y, probs, 2) if len(y) else None
    return out


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """int64 ``(K, K)`` counts: row = true class, column = predicted class."""
    flat = np.asarray(truth, dtype=np.int64) * n_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def top_k_accuracy(truth: np.ndarray, probabilities: np.ndarray, k: int) -> float:
    """Share of examples whose true class is among the ``k`` most probable (ties: the lower class index
    first, as ``argmax``)."""
    k = min(k, probabilities.shape[1])
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(order == np.asarray(truth)[:, None], axis=1)))


def metrics_from_confusion(confusion: np.ndarray, class_names: Sequence[str]) -> dict:
    """Accuracy, balanced accuracy, macro-F1, per-class table and the normalised matrix from the counts
    (``top2_accuracy`` needs the probabilities: None here)."""
    c = np.asarray(confusion, dtype=np.int64)
    n = int(c.sum())
    tp = np.diag(c).astype(np.float64)
    support = c.sum(axis=1).astype(np.float64)  # true examples per class
    predicted = c.sum(axis=0).astype(np.float64)
    per_class, f1s, recalls = [], [], []
    for i, name in enumerate(class_names):
        precision = tp[i] / predicted[i] if predicted[i] else None
        recall = tp[i] / support[i] if support[i] else None
        if support[i] == 0 and predicted[i] == 0:
            f1 = None  # nothing to score: left out of the macro mean
        elif tp[i] == 0:
            f1 = 0.0
        else:
            f1 = 2 * precision * recall / (precision + recall)
        if f1 is not None:
            f1s.append(f1)
        if recall is not None:
            recalls.append(recall)
        per_class.append({"class": str(name), "precision": _num(precision), "recall": _num(recall),
                          "f1": _num(f1), "support": int(support[i])})
    rows = c.sum(axis=1, keepdims=True)
    normalised = np.divide(c, rows, out=np.zeros(c.shape, dtype=np.float64), where=rows > 0)
    return {
        "accuracy": float(tp.sum() / n) if n else None,
        "balanced_accuracy": float(np.mean(recalls)) if recalls else None,
        "macro_f1": float(np.mean(f1s)) if f1s else None,
        "top2_accuracy": None,
        "n": n,
        "per_class": per_class,
        "confusion": c.tolist(),
        "confusion_normalised": normalised.tolist(),
    }


def worst_confusion(metrics: dict) -> tuple[str, str, int] | None:
    """The pair of classes most often mixed up (either direction): ``(class a, class b, examples)``, or None
    when nothing was confused."""
    c = np.asarray(metrics["confusion"], dtype=np.int64)
    pair = c + c.T
    np.fill_diagonal(pair, 0)
    if pair.max(initial=0) == 0:
        return None
    i, j = np.unravel_index(int(np.argmax(np.triu(pair))), pair.shape)
    names = [row["class"] for row in metrics["per_class"]]
    return names[i], names[j], int(pair[i, j])


def _num(value: float | None) -> float | None:
    return None if value is None else float(value)


def _checked(
    truth: object, probabilities: object, class_names: object
) -> tuple[np.ndarray, np.ndarray, list]:
    names = list(class_names)  # type: ignore[call-overload]
    if len(names) < 2:
        raise InvalidInputError(f"class_names has {len(names)} class(es); classification needs at least 2")
    k = len(names)
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != k:
        raise InvalidInputError(
            f"probabilities must be an (N, K={k}) array, one column per class of class_names; got shape "
            f"{probs.shape}"
        )
    if not np.all(np.isfinite(probs)):
        raise InvalidInputError("probabilities contain NaN or infinite values; check the model's output")
    y = np.asarray(truth)
    if y.ndim != 1 or len(y) != len(probs):
        raise InvalidInputError(
            f"truth must hold one class index per row of probabilities ({len(probs)}); got shape {y.shape}"
        )
    if len(y) and not np.issubdtype(y.dtype, np.integer):
        raise InvalidInputError(f"truth must be integer class indices, got dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() >= k):
        raise InvalidInputError(
            f"truth has class index {int(y.min() if y.min() < 0 else y.max())}, outside 0..{k - 1} "
            f"(the positions in class_names)"
        )
    return y.astype(np.int64), probs, names
