"""The final stage's finer search of the watershed seed height (validation.refine_seed_height)."""

from __future__ import annotations

import numpy as np

from core.training.validation import ValImage, refine_seed_height, tune_and_score
from tests.training.synth import config

# One row band of 6 pixels; columns of the distance landscape and the ground-truth objects.
ROWS = slice(5, 11)
# (first column, last column, landscape value, ground-truth id) for each run of columns
RUNS = [
    # a touching pair whose lower peak rises 0.17 above the saddle between them
    (2, 7, 1.0, 1), (8, 8, 0.8, 1), (9, 9, 0.8, 2), (10, 15, 0.97, 2),
    # a dimmer touching pair with the same dip: no single seed threshold splits both pairs
    (19, 24, 0.8, 3), (25, 25, 0.6, 3), (26, 26, 0.6, 4), (27, 32, 0.77, 4),
    # one long object with a bump 0.11 high at its end: seeds 0.1 high split it
    (36, 51, 0.9, 5), (52, 53, 0.66, 5), (54, 63, 0.77, 5),
]


def _scene() -> tuple[list[dict], list[ValImage]]:
    """Maps and ground truth where only seed heights above 0.11 and up to 0.17 get every object right."""
    landscape = np.zeros((16, 68), np.float32)
    truth = np.zeros((16, 68), np.int32)
    for first, last, value, label in RUNS:
        landscape[ROWS, first : last + 1] = value
        truth[ROWS, first : last + 1] = label
    interior = (truth > 0).astype(np.float32)
    no_boundary = np.zeros_like(interior)
    maps = {"interior": interior[None], "boundary": no_boundary[None], "distance": landscape[None]}
    image = ValImage("scene", interior[None], truth[None], np.ones(truth.shape, bool))
    return [maps], [image]


def test_finer_seed_heights_find_what_the_grid_steps_over():
    maps, images = _scene()
    cfg = config("instance", use_distance_head=True)
    params, metrics = tune_and_score(maps, images, cfg)
    assert metrics["mean_f1"] < 1.0  # the grid's 0.0, 0.1 and 0.2 each get one object wrong
    assert params[0]["seed_height"] in (0.0, 0.1, 0.2)

    refined, refined_metrics = refine_seed_height(maps, images, cfg, params)

    assert 0.11 < refined[0]["seed_height"] <= 0.17
    assert refined[0]["tuned_score"] == 1.0 and refined_metrics["mean_f1"] == 1.0
    instance = refined_metrics["per_label"][0]["instance"]
    assert (instance["tp"], instance["fp"], instance["fn"]) == (5, 0, 0)
    assert refined[0]["label_id"] == params[0]["label_id"]  # the label's identity is kept


def test_values_already_best_are_returned_unchanged():
    maps, images = _scene()
    cfg = config("instance", use_distance_head=True)
    params, _ = tune_and_score(maps, images, cfg)
    refined, _ = refine_seed_height(maps, images, cfg, params)

    again, metrics = refine_seed_height(maps, images, cfg, refined)

    assert again is refined and metrics is None


def test_semantic_and_untuned_values_are_left_alone():
    maps, images = _scene()
    semantic = [{"label_id": 7, "label": "nucleus", "threshold": 0.5, "min_size": 0, "tuned_score": 0.9}]
    semantic_maps = [{"prob": m["interior"]} for m in maps]
    assert refine_seed_height(semantic_maps, images, config("semantic"), semantic) == (semantic, None)
    untuned = [{"label_id": 7, "label": "nucleus", "threshold": 0.5, "seed_threshold": 0.7, "min_size": 10,
                "seed_height": 0.0, "tuned_score": None}]
    cfg = config("instance", use_distance_head=True)
    assert refine_seed_height(maps, images, cfg, untuned) == (untuned, None)
