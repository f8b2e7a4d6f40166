"""Checks on real DSB2018 ground truth (/work/shared/data/dsb2018_fluo); skipped where the data is absent."""

from pathlib import Path

import numpy as np
import pytest

from core.evaluation.instance import instance_scores, match_instances
from core.evaluation.postprocess import instances_from_maps
from core.evaluation.targets import distance_targets, three_class_targets

tifffile = pytest.importorskip("tifffile")

_REPO = Path(__file__).resolve().parents[2]
_CANDIDATES = [root / "shared" / "data" / "dsb2018_fluo" / "masks" for root in (_REPO.parent, _REPO)]
MASKS = next((path for path in _CANDIDATES if path.is_dir()), _CANDIDATES[0])
NAMES = ["03b9306f44e9b895", "0402a81e75262469", "077f026f4ab0f0bc"]  # 22, 125 and 6 nuclei

pytestmark = pytest.mark.skipif(not MASKS.is_dir(), reason=f"real data not found at {MASKS}")


@pytest.fixture(scope="module")
def masks():
    return {name: tifffile.imread(MASKS / f"{name}.tif") for name in NAMES}


def test_ground_truth_matched_against_itself_is_perfect(masks):
    for gt in masks.values():
        s = instance_scores(match_instances(gt, gt))
        assert s["f1"] == 1.0 and s["mean_ap"] == 1.0
        assert s["n_gt"] == len(np.unique(gt)) - 1


def test_three_class_targets_as_probabilities_recover_the_objects(masks):
    total = None
    for gt in masks.values():
        classes = three_class_targets(gt)
        interior = (classes == 1).astype(np.float32)
        boundary = (classes == 2).astype(np.float32)
        labels = instances_from_maps(interior, boundary, threshold=0.5, seed_threshold=0.7, min_size=0)
        counts = match_instances(labels, gt)
        assert counts.tp[0] >= 0.95 * counts.n_gt
        total = counts if total is None else total + counts
    assert instance_scores(total)["recall"] >= 0.95


def test_distance_targets_as_seeds_recover_the_objects(masks):
    for gt in masks.values():
        fg = (gt > 0).astype(np.float32)
        labels = instances_from_maps(
            fg, None, threshold=0.5, seed_threshold=0.5, min_size=0, distance=distance_targets(gt)
        )
        counts = match_instances(labels, gt)
        assert counts.tp[0] >= 0.95 * counts.n_gt
