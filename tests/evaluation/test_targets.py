import numpy as np
import pytest

from core.errors import InvalidInputError
from core.evaluation.targets import contact_zone, distance_targets, three_class_targets


def test_three_class_targets_of_two_touching_squares():
    labels = np.zeros((6, 10), dtype=np.int32)
    labels[1:5, 1:5] = 1
    labels[1:5, 5:9] = 2  # touches square 1 along columns 4 | 5
    expected = np.array(
        [
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            [0, 2, 2, 2, 2, 2, 2, 2, 2, 0],
            [0, 2, 1, 1, 2, 2, 1, 1, 2, 0],
            [0, 2, 1, 1, 2, 2, 1, 1, 2, 0],
            [0, 2, 2, 2, 2, 2, 2, 2, 2, 0],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ],
        dtype=np.uint8,
    )
    out = three_class_targets(labels)
    assert out.dtype == np.uint8
    assert np.array_equal(out, expected)


def test_boundary_width_and_image_border():
    labels = np.zeros((8, 8), dtype=np.uint16)
    labels[1:7, 1:7] = 3
    out = three_class_targets(labels, boundary_width=2)
    assert (out == 1).sum() == 4 and out[3:5, 3:5].min() == 1
    # an object cut by the image border keeps its interior up to the border
    full = np.ones((4, 4), dtype=np.int32)
    assert (three_class_targets(full) == 1).all()


def test_distance_targets_peak_at_one_per_object():
    labels = np.zeros((7, 14), dtype=np.int32)
    labels[1:6, 1:6] = 1  # 5 x 5: centre is 3 px from outside, the edge 1 px
    labels[1:4, 6:9] = 2  # 3 x 3, touching object 1
    dist = distance_targets(labels)
    assert dist.dtype == np.float32
    assert dist[labels == 0].max() == 0.0
    assert dist[3, 3] == pytest.approx(1.0)
    assert dist[1, 1] == pytest.approx(1 / 3)
    assert dist[2, 7] == pytest.approx(1.0)
    assert dist[labels == 2].max() == pytest.approx(1.0)
    assert dist[labels > 0].min() > 0


def test_distance_targets_of_an_object_filling_the_image():
    assert np.array_equal(distance_targets(np.ones((3, 3), np.int32)), np.ones((3, 3), np.float32))


def test_bad_inputs_raise():
    with pytest.raises(InvalidInputError, match="boundary_width"):
        three_class_targets(np.zeros((3, 3), np.int32), boundary_width=0)
    with pytest.raises(InvalidInputError, match="integer label image"):
        distance_targets(np.zeros((3, 3), np.float32))


def test_contact_zone_is_the_band_where_two_objects_meet():
    labels = np.zeros((8, 12), dtype=np.int32)
    labels[1:7, 1:6] = 1
    labels[1:7, 6:11] = 2  # touches square 1 along columns 5 | 6
    zone = contact_zone(labels, reach=1)
    expected = np.zeros((8, 12), dtype=bool)
    expected[:, 5:7] = True  # the columns either side of the contact line, and the background above and
    # below it (one pixel from both squares)
    assert np.array_equal(zone, expected)
    wide = contact_zone(labels)  # reach 2: two columns either side
    assert np.array_equal(np.flatnonzero(wide.any(0)), [4, 5, 6, 7]) and wide[:, 4:8].all()


def test_contact_zone_marks_narrow_gaps_and_nothing_around_lone_objects():
    labels = np.zeros((9, 20), dtype=np.int32)
    labels[2:7, 1:5] = 1
    labels[2:7, 8:12] = 2  # 3 px of background between 1 and 2: the middle one is 2 px from both
    labels[2:7, 17:20] = 3  # 5 px from 2: too far apart
    zone = contact_zone(labels)
    assert list(zone[4, 4:9]) == [False, False, True, False, False]
    assert not zone[:, 12:].any() and not zone[:, :6].any()
    assert not contact_zone(labels == 1).any()  # one object: no contact anywhere
    with pytest.raises(InvalidInputError, match="reach"):
        contact_zone(labels, reach=0)


def _marched_rays(labels):
    """Brute force: step along each direction until another label or the border."""
    from core.evaluation.targets import RAY_STEPS

    h, w = labels.shape
    dist = np.zeros((len(RAY_STEPS), h, w), np.float32)
    cut = np.zeros((len(RAY_STEPS), h, w), bool)
    for y, x in zip(*np.nonzero(labels), strict=True):
        for k, (dy, dx) in enumerate(RAY_STEPS):
            n = 0
            while True:
                yy, xx = y + (n + 1) * dy, x + (n + 1) * dx
                if not (0 <= yy < h and 0 <= xx < w):
                    cut[k, y, x] = True
                    break
                if labels[yy, xx] != labels[y, x]:
                    break
                n += 1
            dist[k, y, x] = (n + 0.5) * np.hypot(dy, dx)
    return dist, cut


def test_ray_distances_by_hand():
    from core.evaluation.targets import RAY_STEPS, ray_distances

    labels = np.zeros((5, 9), dtype=np.int32)
    labels[1:4, 1:5] = 1  # 3 x 4 rectangle
    labels[1:4, 5:8] = 2  # touching it on the right
    dist, cut = ray_distances(labels)
    assert dist.shape == cut.shape == (16, 5, 9) and dist.dtype == np.float32 and cut.dtype == bool
    right, down, left = RAY_STEPS.index((0, 1)), RAY_STEPS.index((1, 0)), RAY_STEPS.index((0, -1))
    # pixel (2, 2) of object 1: two more pixels of it to the right, then object 2; one to the left and below
    assert dist[right, 2, 2] == pytest.approx(2.5)
    assert dist[left, 2, 2] == pytest.approx(1.5)
    assert dist[down, 2, 2] == pytest.approx(1.5)
    # a diagonal step counts sqrt(2), a knight's step sqrt(5)
    assert dist[RAY_STEPS.index((1, 1)), 2, 2] == pytest.approx(1.5 * np.sqrt(2))
    assert dist[RAY_STEPS.index((1, 2)), 1, 1] == pytest.approx(1.5 * np.sqrt(5))
    assert dist[:, labels == 0].max() == 0 and not cut[:, labels == 0].any()
    # no object reaches the border, so no axis or diagonal ray is cut; a knight's step from row 1 may jump
    # over row 0 and out of the array, and then the edge is not seen: such a ray counts as cut
    single = [RAY_STEPS.index(step) for step in RAY_STEPS if max(abs(step[0]), abs(step[1])) == 1]
    assert not cut[single].any() and cut[RAY_STEPS.index((-2, 1)), 1, 7]


def test_ray_distances_mark_rays_that_leave_the_array_and_match_marching():
    from core.evaluation.targets import ray_distances

    labels = np.zeros((6, 6), dtype=np.int32)
    labels[:, :3] = 1  # cut by the top, bottom and left borders
    dist, cut = ray_distances(labels)
    up, left, right = 12, 8, 0  # RAY_STEPS indices of (-1, 0), (0, -1), (0, 1)
    assert cut[up, 2, 1] and cut[left, 2, 1] and not cut[right, 2, 1]
    assert dist[right, 2, 1] == pytest.approx(1.5) and dist[up, 2, 1] == pytest.approx(2.5)

    rng = np.random.default_rng(0)
    scene = np.zeros((23, 31), dtype=np.int32)
    yy, xx = np.mgrid[:23, :31]
    for label in range(1, 9):  # overlapping discs: touching objects and odd shapes
        cy, cx, r = rng.integers(0, 23), rng.integers(0, 31), rng.integers(2, 8)
        scene[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = label
    got, got_cut = ray_distances(scene)
    want, want_cut = _marched_rays(scene)
    assert np.array_equal(got, want) and np.array_equal(got_cut, want_cut)


def test_ray_distances_count_rays_that_end_on_unknown_pixels_as_cut():
    from core.errors import InvalidInputError
    from core.evaluation.targets import ray_distances

    labels = np.zeros((5, 8), dtype=np.int32)
    labels[1:4, 1:4] = 1
    known = np.ones((5, 8), dtype=bool)
    known[:, 4:] = False  # the object's right edge meets pixels outside the ROI: it may go on there
    dist, cut = ray_distances(labels, known)
    plain_dist, plain_cut = ray_distances(labels)
    right, left = 0, 8  # RAY_STEPS indices of (0, 1) and (0, -1)
    assert np.array_equal(dist, plain_dist)  # the distances are the same; only what they mean differs
    assert cut[right, 2, 2] and not plain_cut[right, 2, 2]
    assert not cut[left, 2, 2]
    assert not cut[:, labels == 0].any()
    with pytest.raises(InvalidInputError, match="shape"):
        ray_distances(labels, known[:, :4])
