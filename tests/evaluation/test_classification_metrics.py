"""Classification metrics on hand-computed cases."""

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.evaluation.classification import (
    classification_metrics,
    confusion_matrix,
    metrics_from_confusion,
    worst_confusion,
)

NAMES = ["a", "b", "c"]


def one_hot_probs(first, second, k):
    """Probabilities 0.6 on ``first`` and 0.3 on ``second`` (0.1 / (k - 2) elsewhere) per row."""
    p = np.full((len(first), k), 0.1 / (k - 2))
    for i, (f, s) in enumerate(zip(first, second, strict=True)):
        p[i, f], p[i, s] = 0.6, 0.3
    return p


def test_three_classes_hand_computed():
    truth = [0, 0, 0, 1, 1, 2]
    predicted = [0, 0, 1, 1, 0, 2]
    second = [1, 1, 0, 0, 2, 0]  # example 2 (a -> b) has a second; example 4 (b -> a) does not
    m = classification_metrics(truth, one_hot_probs(predicted, second, 3), NAMES)
    assert m["confusion"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recalls 2/3, 1/2, 1 -> balanced accuracy 13/18; precisions are the same, so each F1 equals them
    assert m["balanced_accuracy"] == pytest.approx(13 / 18)
    assert m["macro_f1"] == pytest.approx(13 / 18)
    assert m["top2_accuracy"] == pytest.approx(5 / 6)
    a, b, c = m["per_class"]
    assert a == {"class": "a", "precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3),
                 "f1": pytest.approx(2 / 3), "support": 3}
    assert b["precision"] == pytest.approx(1 / 2) and b["recall"] == pytest.approx(1 / 2)
    assert b["support"] == 2
    assert c["f1"] == pytest.approx(1.0)
    norm = np.asarray(m["confusion_normalised"])
    np.testing.assert_allclose(norm[0], [2 / 3, 1 / 3, 0])
    np.testing.assert_allclose(norm.sum(axis=1), 1.0)
    assert worst_confusion(m) == ("a", "b", 2)


def test_imbalanced_balanced_accuracy_differs_from_accuracy():
    # 8 of class a (all right), 2 of class b (both called a): accuracy 0.8, balanced (1 + 0) / 2
    truth = [0] * 8 + [1] * 2
    probs = np.array([[0.9, 0.1]] * 10)
    m = classification_metrics(truth, probs, ["a", "b"])
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    # F1 a: precision 8/10, recall 1 -> 8/9; F1 b: no prediction, 2 examples -> 0
    assert m["macro_f1"] == pytest.approx((8 / 9 + 0) / 2)
    assert m["per_class"][1]["precision"] is None
    assert m["top2_accuracy"] == 1.0


def test_macro_f1_with_an_empty_class_and_a_class_predicted_without_examples():
    names = ["a", "b", "c", "d"]
    truth = [0, 0, 1, 1]
    predicted = [0, 2, 1, 1]  # c is predicted once but has no example; d has neither
    probs = np.zeros((4, 4))
    probs[np.arange(4), predicted] = 1.0
    m = classification_metrics(truth, probs, names)
    per = {row["class"]: row for row in m["per_class"]}
    assert per["a"]["f1"] == pytest.approx(2 / 3)  # precision 1, recall 1/2
    assert per["b"]["f1"] == pytest.approx(1.0)
    assert per["c"]["f1"] == 0.0 and per["c"]["recall"] is None and per["c"]["precision"] == 0.0
    assert per["d"]["f1"] is None and per["d"]["support"] == 0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)  # d left out, c counted as 0
    assert m["balanced_accuracy"] == pytest.approx((1 / 2 + 1) / 2)  # classes with examples only
    assert m["accuracy"] == pytest.approx(3 / 4)
    assert m["confusion_normalised"][2] == [0.0, 0.0, 0.0, 0.0]  # a row with no examples is all 0
    assert m["confusion_normalised"][0] == [0.5, 0.0, 0.5, 0.0]


def test_top2_ties_break_by_class_order():
    # equal probabilities for b and c after a: the second choice is b (lower index), so truth c misses
    probs = np.array([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]])
    m = classification_metrics([1, 2], probs, NAMES)
    assert m["top2_accuracy"] == pytest.approx(0.5)


def test_confusion_counts_add_up_across_batches():
    rng = np.random.default_rng(0)
    truth, pred = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    whole = confusion_matrix(truth, pred, 3)
    parts = confusion_matrix(truth[:20], pred[:20], 3) + confusion_matrix(truth[20:], pred[20:], 3)
    assert (whole == parts).all() and whole.sum() == 50
    m = metrics_from_confusion(whole, NAMES)
    assert m["accuracy"] == pytest.approx(float(np.mean(truth == pred)))


def test_no_confusion_and_perfect_scores():
    m = classification_metrics([0, 1, 2], np.eye(3), NAMES)
    assert m["accuracy"] == m["balanced_accuracy"] == m["macro_f1"] == m["top2_accuracy"] == 1.0
    assert worst_confusion(m) is None


def test_empty_input_gives_no_scores():
    m = classification_metrics([], np.zeros((0, 3)), NAMES)
    assert m["n"] == 0 and m["accuracy"] is None and m["macro_f1"] is None and m["top2_accuracy"] is None


@pytest.mark.parametrize(
    ("truth", "probs", "names", "words"),
    [
        ([0], np.ones((1, 2)), ["a"], "at least 2"),
        ([0], np.ones((1, 3)), ["a", "b"], "(N, K=2)"),
        ([0, 1], np.ones((1, 2)), ["a", "b"], "one class index per row"),
        ([2], np.ones((1, 2)), ["a", "b"], "outside 0..1"),
        ([0.5], np.ones((1, 2)), ["a", "b"], "integer class indices"),
        ([0], np.array([[np.nan, 1.0]]), ["a", "b"], "NaN"),
    ],
)
def test_bad_inputs_say_what_is_wrong(truth, probs, names, words):
    with pytest.raises(InvalidInputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        classification_metrics(truth, probs, names)
