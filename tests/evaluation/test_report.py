import numpy as np
import pytest

from core.errors import InvalidInputError
from core.evaluation.instance import match_instances
from core.evaluation.pixel import pixel_counts
from core.evaluation.report import ALL_LABELS, INSTANCE_COLUMNS, PIXEL_COLUMNS, image_rows, label_rows


def two_images():
    gt_a = np.zeros((4, 8), dtype=np.int32)
    gt_a[0:2, 0:2] = 1
    pred_a = gt_a.copy()  # perfect
    gt_b = np.zeros((4, 8), dtype=np.int32)
    gt_b[0:2, 0:2] = 1
    gt_b[0:2, 4:6] = 2  # missed
    pred_b = np.zeros_like(gt_b)
    pred_b[0:2, 0:2] = 3
    pred_b[3, 6:8] = 4  # false positive
    return {"a.tif": (pred_a, gt_a), "b.tif": (pred_b, gt_b)}


def test_per_image_and_per_label_rows_for_one_instance_label():
    images = two_images()
    pixel = {name: pixel_counts(p[None] > 0, g[None] > 0) for name, (p, g) in images.items()}
    instance = {name: [match_instances(p, g)] for name, (p, g) in images.items()}
    rows = image_rows(["nucleus"], pixel=pixel, instance=instance)
    assert [r["image"] for r in rows] == ["a.tif", "b.tif"]
    assert list(rows[0]) == ["image", "label", *PIXEL_COLUMNS, *INSTANCE_COLUMNS]
    assert rows[0]["pixel_iou"] == 1.0 and rows[0]["f1"] == 1.0
    assert (rows[1]["tp"], rows[1]["fp"], rows[1]["fn"]) == (1, 1, 1)
    assert rows[1]["pixel_iou"] == pytest.approx(4 / 10)  # tp 4, fp 2, fn 4
    (total,) = label_rows(["nucleus"], pixel=pixel, instance=instance)
    assert total["label"] == "nucleus"
    assert (total["n_gt"], total["n_pred"], total["tp"], total["fp"], total["fn"]) == (3, 3, 2, 1, 1)
    assert total["f1"] == pytest.approx(2 / 3)
    assert total["ap_50"] == pytest.approx(0.5) and total["ap_75"] == pytest.approx(0.5)
    assert total["pixel_iou"] == pytest.approx(8 / 14)


def test_two_semantic_labels_and_the_all_labels_row():
    a = np.zeros((2, 4, 4), dtype=bool)
    a[0, 0, :] = True
    b = np.zeros((2, 4, 4), dtype=bool)
    b[1, 1, :2] = True  # label 2 predicted where there is nothing
    pixel = {"x": pixel_counts(a, a), "y": pixel_counts(b, np.zeros_like(b))}
    rows = label_rows(["cell", "debris"], pixel=pixel)
    assert [r["label"] for r in rows] == ["cell", "debris", ALL_LABELS]
    assert rows[0]["pixel_iou"] == 1.0
    assert rows[1]["pixel_iou"] == 0.0 and rows[1]["pixel_recall"] is None
    assert rows[2]["pixel_iou"] == pytest.approx(4 / 6)
    assert "f1" not in rows[0]
    assert len(image_rows(["cell", "debris"], pixel=pixel)) == 4
    plain = label_rows(["cell", "debris"], pixel=pixel, overall=False)
    assert [r["label"] for r in plain] == ["cell", "debris"]


def test_empty_image_gives_none_scores():
    empty = np.zeros((3, 3), dtype=np.int32)
    (row,) = image_rows(["nucleus"], instance={"empty.tif": [match_instances(empty, empty)]})
    assert row["f1"] is None and row["mean_ap"] is None and row["n_gt"] == 0


def test_bad_inputs_raise():
    good = {"a": np.zeros((1, 4), dtype=np.int64)}
    with pytest.raises(InvalidInputError, match="neither"):
        label_rows(["x"])
    with pytest.raises(InvalidInputError, match=r"\(2, 4\)"):
        label_rows(["x", "y"], pixel=good)
    with pytest.raises(InvalidInputError, match="different images"):
        empty = np.zeros((2, 2), dtype=np.int32)
        label_rows(["x"], pixel=good, instance={"b": [match_instances(empty, empty)]})
    with pytest.raises(InvalidInputError, match="label names"):
        image_rows("x", pixel=good)
