from __future__ import annotations

import numpy as np
import pytest

from core.annotations import clean_shapes, semantic_masks
from core.assist import channel_scale, clean_classes, clean_tiled, proposal_to_shapes, propose
from core.errors import InvalidInputError


def tricky_map() -> np.ndarray:
    """Label 1: a ring with a hole and a diagonal touch; label 2 touching label 1; label 3 inside the hole."""
    m = np.zeros((30, 40), np.uint8)
    m[3:15, 3:15] = 1
    m[6:12, 6:12] = 0  # hole
    m[8:10, 8:10] = 3  # an island inside the hole
    m[15:20, 15:20] = 1  # touches the ring only at a corner
    m[3:15, 15:25] = 2  # touches the ring along an edge
    m[22:29, 30:39] = 2
    m[0, 39] = 1  # one pixel in a corner of the map
    return m


@pytest.mark.parametrize("mode", ["instance", "semantic"])
@pytest.mark.parametrize("origin", [(0, 0), (37, 12)])
def test_accepted_polygons_rasterise_exactly_to_the_map(mode, origin):
    m = tricky_map()
    label_ids = (11, 22, 33)
    shapes = proposal_to_shapes(m, label_ids, mode=mode, origin=origin)
    assert all(s.kind == "annotation" and s.geometry == "polygon" and s.source == "proposal" for s in shapes)
    assert sorted({s.label_id for s in shapes}) == [11, 22, 33]
    x0, y0 = origin
    hw = (y0 + m.shape[0] + 5, x0 + m.shape[1] + 5)
    masks = semantic_masks(shapes, label_ids, hw)
    for k in range(1, 4):
        expected = np.zeros(hw, bool)
        expected[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]] = m == k
        assert np.array_equal(masks[k - 1], expected)
    report = clean_shapes(shapes, hw)  # what the annotate page runs before storing shapes
    assert report.ok and not report.dropped and not report.repaired and len(report.kept) == len(shapes)


def test_cleaned_proposal_round_trips_through_polygons(textures):
    image, _, strokes = textures
    _, proposal = propose(image, channel_scale(image), strokes, (4, 8))
    shown = clean_classes(proposal.classes)
    shapes = proposal_to_shapes(shown, (4, 8), mode="instance", origin=(50, 60))
    masks = semantic_masks(shapes, (4, 8), (60 + 128, 50 + 128), region=(60, 50, 128, 128))
    assert np.array_equal(masks[0], shown == 1) and np.array_equal(masks[1], shown == 2)


def test_proposal_to_shapes_refuses_bad_input():
    with pytest.raises(InvalidInputError, match="mode"):
        proposal_to_shapes(np.zeros((4, 4), np.uint8), (1,), mode="panoptic")
    with pytest.raises(InvalidInputError, match="label id"):
        proposal_to_shapes(np.full((4, 4), 2, np.uint8), (1,), mode="semantic")
    assert proposal_to_shapes(np.zeros((4, 4), np.uint8), (1,), mode="semantic") == []


def test_clean_removes_specks_and_fills_small_holes():
    m = np.zeros((40, 40), np.uint8)
    m[5:25, 5:25] = 1
    m[10:12, 10:12] = 0  # small hole -> filled with 1
    m[30, 30] = 1  # speck in background -> 0
    m[18:20, 18:20] = 2  # small island of another class inside 1 -> 1
    m[0:6, 30:40] = 2  # a large piece of class 2 stays
    out = clean_classes(m, min_size=5)
    expected = np.zeros((40, 40), np.uint8)
    expected[5:25, 5:25] = 1
    expected[0:6, 30:40] = 2
    assert np.array_equal(out, expected)
    assert out.dtype == np.uint8 and m[30, 30] == 1  # input untouched
    assert np.array_equal(clean_classes(m, min_size=0), m)


def test_speck_takes_the_class_it_shares_the_longest_border_with():
    m = np.zeros((20, 20), np.uint8)
    m[:, 10:] = 2
    m[8:10, 8:11] = 1  # a 10-pixel speck straddling the 0|2 edge, 3 columns in 0 and 2 in 2
    m[8:10, 11:13] = 1
    out = clean_classes(m, min_size=20)
    assert set(np.unique(out[8:10, 8:13]).tolist()) == {2}  # most of its border is class 2


def test_clean_tiled_equals_whole_map_cleaning(rng):
    noisy = (rng.random((300, 260)) < 0.5).astype(np.uint8)
    noisy = np.where(rng.random((300, 260)) < 0.05, 2, noisy).astype(np.uint8)
    from scipy import ndimage

    blobs = (ndimage.gaussian_filter(rng.random((300, 260)), 3) > 0.5).astype(np.uint8)
    blobs[rng.random((300, 260)) < 0.02] = 2
    for m in (noisy, blobs):
        whole = clean_classes(m, min_size=12)
        assert np.array_equal(clean_tiled(m, min_size=12, tile=64), whole)
        assert np.array_equal(clean_tiled(m, min_size=12, tile=1000), whole)


def test_clean_refuses_bad_input():
    with pytest.raises(InvalidInputError, match=r"\(H, W\)"):
        clean_classes(np.zeros((2, 3, 4), np.uint8))
    with pytest.raises(InvalidInputError, match="0..255"):
        clean_classes(np.full((3, 3), 300))
    with pytest.raises(InvalidInputError, match="min_size"):
        clean_classes(np.zeros((3, 3), np.uint8), min_size=-1)
