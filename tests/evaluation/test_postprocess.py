import numpy as np
import pytest

from core.errors import InvalidInputError
from core.evaluation.instance import instance_scores, match_instances
from core.evaluation.postprocess import (
    POSTPROCESS_DEFAULTS,
    instances_from_maps,
    label_components,
    semantic_from_prob,
)
from core.evaluation.targets import distance_targets, three_class_targets
from tests.evaluation.helpers import disc_probabilities, two_touching_discs


def one_hot(classes: np.ndarray) -> list[np.ndarray]:
    return [(classes == k).astype(np.float32) for k in range(3)]


def test_defaults():
    assert POSTPROCESS_DEFAULTS == {"threshold": 0.5, "seed_threshold": 0.7, "min_size": 10, "seed_height": 0.0}


def test_semantic_threshold_and_min_size():
    prob = np.zeros((6, 8), dtype=np.float32)
    prob[0:3, 0:3] = 0.9  # 9 px
    prob[5, 5:8] = 0.6  # 3 px
    prob[4, 0] = 0.5  # not above 0.5
    mask = semantic_from_prob(prob, threshold=0.5, min_size=3)
    assert mask.dtype == bool
    assert mask.sum() == 12 and not mask[4, 0]
    assert semantic_from_prob(prob, threshold=0.5, min_size=4).sum() == 9
    assert semantic_from_prob(prob, threshold=0.7, min_size=0).sum() == 9


def test_label_components_uses_8_connectivity_and_removes_small():
    mask = np.zeros((5, 5), dtype=bool)
    mask[0, 0] = mask[1, 1] = True  # diagonal neighbours: one object of 2 px
    mask[3:5, 3:5] = True  # 4 px
    labels = label_components(mask, min_size=0)
    assert labels.dtype == np.int32
    assert labels.max() == 2 and labels[0, 0] == labels[1, 1] == 1 and labels[4, 4] == 2
    small_removed = label_components(mask, min_size=3)
    assert small_removed.max() == 1 and small_removed[0, 0] == 0 and small_removed[3, 3] == 1


def test_watershed_separates_two_touching_discs():
    gt = two_touching_discs()
    interior = disc_probabilities()
    fg_without_split = label_components(interior > 0.05, min_size=0)
    assert fg_without_split.max() == 1  # one blob: thresholding alone merges them
    labels = instances_from_maps(interior, None, threshold=0.05, seed_threshold=0.7, min_size=10)
    assert labels.dtype == np.int32 and labels.max() == 2
    s = instance_scores(match_instances(labels, gt))
    assert (s["tp"], s["fp"], s["fn"]) == (2, 0, 0)
    assert s["mean_matched_iou"] > 0.9


def test_three_class_maps_of_touching_discs_recover_them_exactly():
    gt = two_touching_discs()
    _, interior, boundary = one_hot(three_class_targets(gt))
    labels = instances_from_maps(interior, boundary, threshold=0.5, seed_threshold=0.7, min_size=0)
    assert match_instances(labels, gt).tp.tolist() == [2] * 10


def test_distance_map_makes_seeds_and_landscape():
    gt = two_touching_discs()
    dist = distance_targets(gt)
    fg = (gt > 0).astype(np.float32)
    labels = instances_from_maps(fg, None, threshold=0.5, seed_threshold=0.6, min_size=0, distance=dist)
    assert match_instances(labels, gt).tp[0] == 2
    # interior alone is flat here: without the distance map the two discs stay one object
    merged = instances_from_maps(fg, None, threshold=0.5, seed_threshold=0.6, min_size=0)
    assert merged.max() == 1


def test_h_maxima_seeds_separate_touching_objects_whose_maps_join_above_the_threshold():
    gt = two_touching_discs()
    dist = distance_targets(gt)
    joined = np.maximum(dist, 0.5 * (gt > 0))  # a saddle at 0.5 between the discs' peaks of 1
    fg = (gt > 0).astype(np.float32)
    kwargs = {"threshold": 0.5, "seed_threshold": 0.3, "min_size": 0, "distance": joined}
    assert instances_from_maps(fg, None, **kwargs).max() == 1  # one seed: the discs merge
    split = instances_from_maps(fg, None, seed_height=0.2, **kwargs)
    assert match_instances(split, gt).tp[0] == 2
    # a bump rising less than the height above its surroundings is no seed of its own
    bumpy = joined.copy()
    bumpy[gt == 1] = np.maximum(bumpy[gt == 1], 0.95)  # a plateau with the disc's own peak 0.05 above it
    kwargs["distance"] = bumpy
    assert instances_from_maps(fg, None, seed_height=0.2, **kwargs).max() == 2
    assert instances_from_maps(fg, None, seed_height=0.01, **kwargs).max() >= 2


def test_min_size_removes_small_objects_and_relabels_consecutively():
    interior = np.zeros((10, 20), dtype=np.float32)
    interior[1:5, 1:5] = 1.0  # 16 px
    interior[7:9, 10:12] = 1.0  # 4 px
    interior[1:7, 13:19] = 1.0  # 36 px
    labels = instances_from_maps(interior, None, threshold=0.5, seed_threshold=0.7, min_size=5)
    assert sorted(np.unique(labels).tolist()) == [0, 1, 2]
    assert labels[8, 10] == 0
    assert labels[2, 2] != labels[3, 15]


def test_foreground_without_a_seed_becomes_an_object():
    interior = np.zeros((8, 8), dtype=np.float32)
    interior[2:6, 2:6] = 0.4  # foreground with boundary, but never confident interior
    boundary = np.zeros_like(interior)
    boundary[2:6, 2:6] = 0.3
    labels = instances_from_maps(interior, boundary, threshold=0.5, seed_threshold=0.7, min_size=0)
    assert labels.max() == 1 and (labels > 0).sum() == 16


def test_empty_maps_give_no_objects():
    zeros = np.zeros((6, 6), dtype=np.float32)
    labels = instances_from_maps(zeros, zeros, threshold=0.5, seed_threshold=0.7, min_size=0)
    assert labels.dtype == np.int32 and labels.max() == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 1.5, "seed_threshold": 0.7, "min_size": 0}, "threshold must be between 0 and 1"),
        ({"threshold": 0.5, "seed_threshold": "x", "min_size": 0}, "seed_threshold must be a number"),
        ({"threshold": 0.5, "seed_threshold": 0.7, "min_size": -1}, "min_size"),
        ({"threshold": 0.5, "seed_threshold": 0.7, "min_size": 2.5}, "min_size"),
        ({"threshold": 0.5, "seed_threshold": 0.7, "min_size": 0, "seed_height": 2}, "seed_height must be"),
    ],
)
def test_bad_parameters_raise(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        instances_from_maps(np.zeros((4, 4)), None, **kwargs)


def test_maps_of_different_shapes_raise():
    with pytest.raises(InvalidInputError, match="boundary has shape"):
        instances_from_maps(np.zeros((4, 4)), np.zeros((4, 5)), threshold=0.5, seed_threshold=0.7, min_size=0)
    with pytest.raises(InvalidInputError, match="prob must be an"):
        semantic_from_prob(np.zeros((2, 4, 4)), threshold=0.5, min_size=0)


def test_a_seed_spanning_two_foreground_parts_gives_two_objects():
    interior = np.zeros((5, 9), dtype=np.float32)
    interior[1:4, 1:8] = 0.9  # one seed ...
    boundary = np.zeros_like(interior)
    interior[:, 4] = 0.45  # ... but column 4 is below the foreground threshold when boundary is 0
    labels = instances_from_maps(interior, boundary, threshold=0.5, seed_threshold=0.4, min_size=0)
    assert labels.max() == 2 and labels[2, 2] != labels[2, 6] and labels[2, 4] == 0
