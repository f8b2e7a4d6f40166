import itertools

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.evaluation.instance import instance_scores, match_instances
from core.evaluation.pixel import pixel_counts, pixel_scores
from core.evaluation.postprocess import instances_from_maps, semantic_from_prob
from core.evaluation.tuning import DEFAULT_GRIDS, tune_postprocessing
from tests.evaluation.helpers import disc_probabilities, two_touching_discs


def instance_items():
    """Two images of two touching discs each, one with a small confident speck that is not an object."""
    gt = two_touching_discs()
    interior = disc_probabilities()
    boundary = np.clip(0.6 - interior, 0, 1) * (interior > 0)
    noisy = interior.copy()
    noisy[2:4, 2:5] = 0.95  # 6 px false object
    return [({"interior": interior, "boundary": boundary}, gt, None),
            ({"interior": noisy, "boundary": boundary}, gt, None)]  # fmt: skip


def brute_force_instance(items, params):
    total = sum(
        match_instances(instances_from_maps(m["interior"], m.get("boundary"), **params), gt, valid)
        for m, gt, valid in items
    )
    return instance_scores(total)["f1"]


GRID = {"threshold": [0.3, 0.5], "seed_threshold": [0.05, 0.8], "seed_height": [0.0], "min_size": [0, 10]}


def test_instance_tuning_picks_the_best_grid_point():
    items = instance_items()
    best, score = tune_postprocessing(items, mode="instance", grid=GRID)
    # seeds at 0.05 merge the discs into one object; min_size 0 keeps the speck
    assert best["seed_threshold"] == 0.8 and best["min_size"] == 10
    assert score == 1.0
    assert set(best) == {"threshold", "seed_threshold", "seed_height", "min_size"}
    assert brute_force_instance(items, best) == score


def test_instance_tuning_scores_equal_brute_force_at_every_grid_point():
    items = instance_items()
    all_scores = {}
    for t, s, h, m in itertools.product(*GRID.values()):
        params = {"threshold": t, "seed_threshold": s, "seed_height": h, "min_size": m}
        single = {key: [value] for key, value in params.items()}
        _, score = tune_postprocessing(items, mode="instance", grid=single)
        assert score == pytest.approx(brute_force_instance(items, params))
        all_scores[(t, s, h, m)] = score
    _, best_score = tune_postprocessing(items, mode="instance", grid=GRID)
    assert best_score == max(all_scores.values())
    assert min(all_scores.values()) < best_score  # the grid matters on this case


def test_instance_tuning_with_a_distance_map_and_valid_mask():
    gt = two_touching_discs()
    interior = (gt > 0).astype(np.float32)
    dist = disc_probabilities()
    valid = np.ones(gt.shape, dtype=bool)
    valid[:, :5] = False
    items = [({"interior": interior, "distance": dist}, gt, valid)]
    best, score = tune_postprocessing(items, mode="instance",
                                      grid={"seed_threshold": [0.05, 0.7], "seed_height": [0.0]})
    assert best["seed_threshold"] == 0.7 and score == 1.0
    assert len(best) == 4


def test_h_maxima_seeds_split_touching_objects_that_a_low_threshold_merges():
    items = instance_items()
    grid = {"threshold": [0.3], "seed_threshold": [0.05], "min_size": [10]}
    _, merged = tune_postprocessing(items, mode="instance", grid={**grid, "seed_height": [0.0]})
    best, split = tune_postprocessing(items, mode="instance", grid={**grid, "seed_height": [0.0, 0.1]})
    assert merged < 1.0 and split == 1.0 and best["seed_height"] == 0.1
    assert brute_force_instance(items, best) == split
    # the default grid tries threshold seeds first, then h-maxima of 0.1 and 0.2
    assert DEFAULT_GRIDS["instance"]["seed_height"] == [0.0, 0.1, 0.2]


def semantic_items():
    rng = np.random.default_rng(3)
    gt = np.zeros((40, 40), dtype=bool)
    gt[5:25, 5:25] = True
    prob = np.where(gt, 0.65, 0.1) + rng.normal(0, 0.02, gt.shape)
    prob[32:35, 32:35] = 0.9  # 9 px false blob
    return [({"prob": prob.astype(np.float32)}, gt, None)]


def test_semantic_tuning_picks_the_best_grid_point():
    items = semantic_items()
    grid = {"threshold": [0.3, 0.5, 0.8], "min_size": [0, 20]}
    best, score = tune_postprocessing(items, mode="semantic", grid=grid)
    assert best == {"threshold": 0.3, "min_size": 20}
    assert score == 1.0
    for t, m in itertools.product(*grid.values()):
        pred = semantic_from_prob(items[0][0]["prob"], threshold=t, min_size=m)
        iou = pixel_scores(pixel_counts(pred, items[0][1]))[0]["iou"]
        _, single = tune_postprocessing(items, mode="semantic", grid={"threshold": [t], "min_size": [m]})
        assert single == pytest.approx(iou)


def test_semantic_tuning_respects_valid():
    (maps, gt, _), = semantic_items()
    valid = np.ones(gt.shape, dtype=bool)
    valid[30:, 30:] = False  # the false blob is not annotated
    best, score = tune_postprocessing([(maps, gt, valid)], mode="semantic", grid={"min_size": [0, 20]})
    assert best["min_size"] == 0 and score == 1.0


def test_nothing_annotated_and_nothing_predicted_counts_as_perfect():
    empty = np.zeros((8, 8), dtype=np.float32)
    best, score = tune_postprocessing([({"prob": empty}, empty > 0, None)], mode="semantic")
    assert score == 1.0
    assert best == {name: values[0] for name, values in DEFAULT_GRIDS["semantic"].items()}


@pytest.mark.parametrize(
    ("items", "mode", "grid", "message"),
    [
        ([], "instance", None, "items is empty"),
        ([({}, np.zeros((4, 4), np.int32), None)], "instance", None, "lack"),
        ([({"prob": np.zeros((4, 4))}, np.zeros((4, 4), bool), None)], "both", None, "mode must be one of"),
        ([({"prob": np.zeros((4, 4))}, np.zeros((4, 4), bool), None)], "semantic", {"seed_threshold": [0.5]},
         "unknown parameter"),
        ([({"prob": np.zeros((4, 4))}, np.zeros((4, 4), bool), None)], "semantic", {"threshold": []},
         "non-empty list"),
        ([({"prob": np.zeros((4, 5))}, np.zeros((4, 4), bool), None)], "semantic", None, "shape"),
    ],
)  # fmt: skip
def test_bad_inputs_raise(items, mode, grid, message):
    with pytest.raises(InvalidInputError, match=message):
        tune_postprocessing(items, mode=mode, grid=grid)


def test_the_search_counts_images_on_threads_with_the_same_result_as_on_one(monkeypatch):
    import core.evaluation.tuning as tuning

    rng = np.random.default_rng(4)
    items = [(m, gt, valid) for m, gt, valid in instance_items() * 3]
    items = [({k: np.clip(v + rng.normal(0, 0.05, v.shape), 0, 1) for k, v in m.items()}, gt, valid)
             for m, gt, valid in items]  # six images that differ
    semantic = semantic_items() * 3
    grid = {**DEFAULT_GRIDS["instance"], "seed_height": [0.0, 0.1]}
    threaded = (tune_postprocessing(items, mode="instance", grid=grid), tune_postprocessing(semantic, mode="semantic"))
    monkeypatch.setattr(tuning, "MAX_THREADS", 1)
    assert tuning.search_threads(6) == 1
    single = (tune_postprocessing(items, mode="instance", grid=grid), tune_postprocessing(semantic, mode="semantic"))
    assert threaded == single
    monkeypatch.setattr(tuning, "MAX_THREADS", 4)
    monkeypatch.setattr(tuning.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert tuning.search_threads(6) == 2 and tuning.search_threads(1) == 1  # the cores this process may use
