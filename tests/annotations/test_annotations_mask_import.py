from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
from scipy import ndimage

from core.annotations import check_mask_matches, clean_shape, instance_labels, mask_to_shapes, semantic_masks
from core.annotations.geometry import first_crossing
from core.errors import AnnotationError

DEFAULT_SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SHARED_DATA = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", DEFAULT_SHARED))
DSB_MASKS = SHARED_DATA / "dsb2018_fluo" / "masks"


def _pieces_in_order(labels: np.ndarray) -> np.ndarray:
    """The instance image mask_to_shapes promises: ids in order, each 8-connected piece on its own."""
    out = np.zeros(labels.shape, np.int32)
    n = 0
    for ident in range(1, int(labels.max()) + 1):
        pieces, count = ndimage.label(labels == ident, structure=np.ones((3, 3)))
        for k in range(1, count + 1):
            n += 1
            out[pieces == k] = n
    return out


def _ious(expected: np.ndarray, got: np.ndarray) -> list[float]:
    ious = []
    for ident in range(1, int(expected.max()) + 1):
        a, b = expected == ident, got == ident
        ious.append((a & b).sum() / (a | b).sum())
    return ious


def synthetic_labels() -> np.ndarray:
    """Touching objects, a ring whose hole holds another object, a two-hole object, diagonal contacts."""
    m = np.zeros((64, 80), np.uint16)
    m[5:25, 5:25] = 1
    m[10:15, 10:15] = 0  # hole
    m[5:25, 25:40] = 2  # touches 1 along a whole side
    m[30:60, 5:35] = 3
    m[35:55, 10:30] = 0
    m[40:50, 15:25] = 4  # an object inside the hole of 3
    m[5:20, 45:75] = 5
    m[8:12, 48:52] = 0
    m[8:12, 60:70] = 0  # two holes
    m[30, 50] = m[31, 51] = m[32, 52] = 6  # a diagonal chain (one 8-connected object)
    m[40:44, 60:64] = 7
    m[44:48, 64:68] = 7  # two blocks touching at a corner
    m[40:44, 64:68] = 8  # and another object in the other diagonal
    return m


def test_synthetic_touching_objects_and_holes_round_trip_exactly():
    m = synthetic_labels()
    shapes = mask_to_shapes(m, label_id=5)
    assert len(shapes) == 8 and all(s.label_id == 5 and s.source == "import" for s in shapes)
    got = instance_labels(shapes, 5, m.shape)
    assert np.array_equal(got, m.astype(np.int32))  # holes kept, touching objects apart, exact pixels
    for s in shapes:  # valid outlines: clean_shape keeps them as they are
        assert first_crossing(s.points) is None
        assert np.array_equal(clean_shape(s, m.shape).points, s.points)


def test_random_label_images_round_trip_exactly(rng):
    for _ in range(20):
        m = np.zeros((40, 50), np.int32)
        for ident in range(1, 8):
            y, x = rng.integers(0, 35), rng.integers(0, 45)
            blob = rng.random((rng.integers(2, 15), rng.integers(2, 15))) < 0.7
            window = m[y : y + blob.shape[0], x : x + blob.shape[1]]
            window[blob[: window.shape[0], : window.shape[1]]] = ident
        shapes = mask_to_shapes(m, label_id=1, binary=False)
        assert np.array_equal(instance_labels(shapes, 1, m.shape), _pieces_in_order(m))


def test_binary_masks_are_split_into_connected_components():
    m = np.zeros((30, 30), np.uint8)
    m[2:8, 2:8] = 255
    m[8:12, 8:12] = 255  # touches the first at a corner: same 8-connected object
    m[20:25, 3:9] = 255
    shapes = mask_to_shapes(m, label_id=1)
    assert len(shapes) == 2
    assert np.array_equal(semantic_masks(shapes, [1], m.shape)[0], m > 0)
    bools = mask_to_shapes(m > 0, label_id=1)
    assert len(bools) == 2
    # forcing instance mode on a 0/1 image keeps the ids, forcing binary mode splits ids into components
    assert len(mask_to_shapes((m > 0).astype(np.uint8), label_id=1, binary=False)) == 2
    two = np.zeros((10, 10), np.uint8)
    two[1:3, 1:3], two[5:7, 5:7] = 3, 3
    assert len(mask_to_shapes(two, label_id=1, binary=True)) == 2


def test_empty_mask_gives_no_shapes():
    assert mask_to_shapes(np.zeros((5, 5), np.uint8), label_id=1) == []


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.full((4, 4), 0.5, np.float32), "whole numbers"),
        (np.array([[0, np.nan], [1, 2]]), "whole numbers"),
        (np.zeros((4, 4, 3), np.uint8), "must be 2D"),
        (np.full((4, 4), -1, np.int16), ">= 0"),
        (np.array([["a"]]), "integers"),
    ],
)
def test_bad_masks_are_refused(mask, message):
    with pytest.raises(AnnotationError, match=message):
        mask_to_shapes(mask, label_id=1)


def test_integral_float_masks_are_accepted():
    m = np.zeros((6, 6), np.float32)
    m[1:3, 1:3], m[3:5, 3:5] = 1, 2
    assert len(mask_to_shapes(m, label_id=1, binary=False)) == 2


def test_check_mask_matches():
    check_mask_matches((10, 20), (10, 20), "a.tif")
    with pytest.raises(AnnotationError, match=r"'b.png' is 21x10 pixels but its image is 20x10"):
        check_mask_matches((10, 21), (10, 20), "b.png")
    with pytest.raises(AnnotationError, match="single 2D plane"):
        check_mask_matches((3, 10, 20), (10, 20), "c.tif")


@pytest.mark.skipif(not DSB_MASKS.is_dir(), reason="shared DSB2018 data not present")
def test_real_dsb2018_masks_round_trip_with_iou_at_least_098():
    files = sorted(DSB_MASKS.glob("*.tif"))[:3]
    assert len(files) == 3
    for path in files:
        labels = tifffile.imread(path)
        shapes = mask_to_shapes(labels, label_id=1)
        got = instance_labels(shapes, 1, labels.shape)
        expected = _pieces_in_order(labels)
        assert len(shapes) == expected.max()
        ious = _ious(expected, got)
        assert min(ious) >= 0.98, (path.name, min(ious))
        assert np.array_equal(got, expected)  # in fact exact
