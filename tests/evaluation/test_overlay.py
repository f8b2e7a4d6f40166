import numpy as np
import pytest

from core.errors import InvalidInputError
from core.evaluation.overlay import FN_COLOR, FP_COLOR, PALETTE, TP_COLOR, label_overlay, tpfpfn_overlay


def test_semantic_overlay_colours_pixels():
    image = np.full((4, 4, 3), 100, dtype=np.uint8)
    pred = np.zeros((4, 4), dtype=bool)
    gt = np.zeros((4, 4), dtype=bool)
    pred[0, 0] = gt[0, 0] = True  # TP
    pred[0, 1] = True  # FP
    gt[0, 2] = True  # FN
    out = tpfpfn_overlay(image, pred, gt, instance=False, alpha=1.0)
    assert out.dtype == np.uint8 and out.shape == (4, 4, 3)
    assert tuple(out[0, 0]) == TP_COLOR
    assert tuple(out[0, 1]) == FP_COLOR
    assert tuple(out[0, 2]) == FN_COLOR
    assert tuple(out[3, 3]) == (100, 100, 100)
    half = tpfpfn_overlay(image, pred, gt, instance=False, alpha=0.5)
    assert tuple(half[0, 0]) == tuple(round(0.5 * 100 + 0.5 * c) for c in TP_COLOR)
    assert np.array_equal(image, np.full((4, 4, 3), 100, dtype=np.uint8))  # input untouched


def test_instance_overlay_colours_whole_objects_by_their_match():
    gray = np.zeros((12, 12), dtype=np.uint8)
    gt = np.zeros((12, 12), dtype=np.int32)
    pred = np.zeros_like(gt)
    gt[0:4, 0:4] = 1
    pred[0:4, 0:3] = 5  # IoU 12/16: matched, green as a whole (including no gt pixel)
    gt[6:11, 6:11] = 2  # missed: blue
    pred[0:3, 8:11] = 6  # nothing there: red
    pred[8:9, 8:9] = 7  # tiny wrong object on the missed one: red, missed object stays outlined blue
    out = tpfpfn_overlay(gray, pred, gt, instance=True, alpha=1.0)
    assert tuple(out[1, 1]) == TP_COLOR
    assert tuple(out[1, 3]) == (0, 0, 0)  # gt pixel of a matched object not covered by the prediction
    assert tuple(out[1, 9]) == FP_COLOR
    assert tuple(out[7, 7]) == FN_COLOR
    assert tuple(out[8, 8]) == FP_COLOR
    assert tuple(out[6, 8]) == FN_COLOR  # outline
    assert tuple(out[11, 0]) == (0, 0, 0)


def test_non_uint8_images_are_stretched():
    image = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    empty = np.zeros((2, 2), dtype=bool)
    out = tpfpfn_overlay(image, empty, empty, instance=False)
    assert out[0, 0].tolist() == [0, 0, 0] and out[1, 1].tolist() == [255, 255, 255]


def test_label_overlay_colours_and_outlines():
    image = np.zeros((7, 7, 3), dtype=np.uint8)
    labels = np.zeros((7, 7), dtype=np.int32)
    labels[1:6, 1:6] = 2
    out = label_overlay(image, labels, colors={2: "#ff0000"}, alpha=0.4)
    assert tuple(out[1, 1]) == (255, 0, 0)  # outline at full opacity
    assert tuple(out[3, 3]) == (102, 0, 0)  # fill blended at 0.4
    assert tuple(out[0, 0]) == (0, 0, 0)
    plain = label_overlay(image, labels, alpha=1.0, outline=False)
    assert tuple(plain[3, 3]) == PALETTE[1]
    cycled = label_overlay(image, labels, colors=[(1, 2, 3)], alpha=1.0)
    assert tuple(cycled[3, 3]) == (1, 2, 3)
    assert tuple(label_overlay(image, labels > 0, colors=["#00ff00"], alpha=1.0)[3, 3]) == (0, 255, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"colors": {1: "#ff0000"}}, "no colour for label 2"),
        ({"colors": ["red"]}, "#rrggbb"),
        ({"colors": [(300, 0, 0)]}, "0..255"),
        ({"alpha": 2.0}, "alpha"),
    ],
)
def test_bad_colours_raise(kwargs, message):
    labels = np.zeros((3, 3), dtype=np.int32)
    labels[1, 1] = 2
    with pytest.raises(InvalidInputError, match=message):
        label_overlay(np.zeros((3, 3)), labels, **kwargs)


def test_bad_image_raises():
    with pytest.raises(InvalidInputError, match=r"\(H, W, 3\)"):
        label_overlay(np.zeros((2, 3, 3, 4)), np.zeros((3, 3), np.int32))
    with pytest.raises(InvalidInputError, match="shape"):
        tpfpfn_overlay(np.zeros((4, 4)), np.zeros((3, 3), bool), np.zeros((3, 3), bool), instance=False)
