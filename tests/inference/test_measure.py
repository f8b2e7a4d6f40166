"""Measurements: hand-computed shapes, regionprops values, exactness across blocks, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.measure import regionprops_table

from core.errors import InvalidInputError
from core.inference import measure_objects
from tests.evaluation.helpers import random_discs


def _one(columns: dict, i: int = 0) -> dict:
    return {k: v[i] for k, v in columns.items()}


def test_rectangle_by_hand():
    labels = np.zeros((40, 50), dtype=np.int32)
    labels[3:13, 5:25] = 4  # 10 rows x 20 columns
    ramp = np.broadcast_to(np.arange(50, dtype=np.uint16), (40, 50))
    image = np.stack([ramp, ramp + 100])
    row = _one(measure_objects(labels, image, label_name="cell", pixel_size_um=0.5))
    assert row["label"] == "cell" and row["id"] == 4
    assert row["area"] == 200
    assert (row["bbox_y0"], row["bbox_x0"], row["bbox_y1"], row["bbox_x1"]) == (3, 5, 13, 25)
    assert row["centroid_y"] == pytest.approx(7.5) and row["centroid_x"] == pytest.approx(14.5)
    assert row["equivalent_diameter"] == pytest.approx(math.sqrt(4 * 200 / math.pi))
    assert row["solidity"] == pytest.approx(1.0)
    assert row["perimeter"] == pytest.approx(56.0)  # every border pixel counts 1: 2 * (10 + 20) - 4
    # second moments: var(rows) = (10^2 - 1) / 12, var(cols) = (20^2 - 1) / 12
    expected_ecc = math.sqrt(1 - ((10**2 - 1) / 12) / ((20**2 - 1) / 12))
    assert row["eccentricity"] == pytest.approx(expected_ecc)
    assert row["mean_intensity_c0"] == pytest.approx(14.5) and row["mean_intensity_c1"] == pytest.approx(
        114.5
    )
    assert (row["min_intensity_c0"], row["max_intensity_c0"]) == (5, 24)
    assert (row["min_intensity_c1"], row["max_intensity_c1"]) == (105, 124)
    assert row["area_um2"] == pytest.approx(50.0) and row["perimeter_um"] == pytest.approx(28.0)
    assert row["centroid_x_um"] == pytest.approx(7.25)
    assert row["equivalent_diameter_um"] == pytest.approx(0.5 * math.sqrt(800 / math.pi))


def test_disc_by_hand():
    yy, xx = np.mgrid[:61, :61]
    labels = ((yy - 30) ** 2 + (xx - 30) ** 2 <= 20**2).astype(np.int32)
    row = _one(measure_objects(labels))
    assert row["area"] == int(labels.sum())
    assert abs(row["area"] - math.pi * 400) / (math.pi * 400) < 0.01
    assert (row["centroid_y"], row["centroid_x"]) == (pytest.approx(30.0), pytest.approx(30.0))
    assert (row["bbox_y0"], row["bbox_x0"], row["bbox_y1"], row["bbox_x1"]) == (10, 10, 51, 51)
    assert row["eccentricity"] == pytest.approx(0.0, abs=1e-6)
    assert 0.95 < row["solidity"] <= 1.0  # skimage's hull reaches half a pixel beyond the centres
    assert abs(row["perimeter"] - 2 * math.pi * 20) / (2 * math.pi * 20) < 0.05
    assert "area_um2" not in measure_objects(labels) and "mean_intensity_c0" not in measure_objects(labels)


@pytest.mark.parametrize("block", [37, 64, 1024])
def test_values_equal_regionprops_even_when_blocks_cut_objects(block):
    labels = random_discs((200, 260), 60, seed=1, radius=(3, 25))  # overlapping discs: odd shapes, split ids
    image = np.random.default_rng(0).integers(0, 4000, (2, 200, 260)).astype(np.uint16)
    ours = measure_objects(labels, image, block=block)
    ref = regionprops_table(
        labels,
        np.moveaxis(image, 0, -1),
        properties=(
            "label",
            "area",
            "perimeter",
            "centroid",
            "bbox",
            "equivalent_diameter_area",
            "eccentricity",
            "solidity",
            "intensity_mean",
            "intensity_min",
            "intensity_max",
        ),
    )
    pairs = {
        "id": "label",
        "area": "area",
        "perimeter": "perimeter",
        "centroid_y": "centroid-0",
        "centroid_x": "centroid-1",
        "bbox_y0": "bbox-0",
        "bbox_x0": "bbox-1",
        "bbox_y1": "bbox-2",
        "bbox_x1": "bbox-3",
        "equivalent_diameter": "equivalent_diameter_area",
        "solidity": "solidity",
        "eccentricity": "eccentricity",
    }
    for c in range(2):
        pairs |= {
            f"mean_intensity_c{c}": f"intensity_mean-{c}",
            f"min_intensity_c{c}": f"intensity_min-{c}",
            f"max_intensity_c{c}": f"intensity_max-{c}",
        }
    for ours_key, ref_key in pairs.items():
        np.testing.assert_allclose(ours[ours_key], ref[ref_key], rtol=1e-5, atol=1e-6, err_msg=ours_key)


def test_an_object_in_two_separate_pieces_across_blocks():
    labels = np.zeros((64, 64), dtype=np.int32)
    labels[2:8, 2:8] = 1  # first piece, inside block (0, 0)
    labels[40:50, 50:60] = 1  # second piece, in block (1, 1)
    labels[20:22, 20:40] = 2
    ours = measure_objects(labels, block=32)
    ref = regionprops_table(labels, properties=("label", "area", "solidity", "perimeter"))
    np.testing.assert_allclose(ours["solidity"], ref["solidity"])
    np.testing.assert_allclose(ours["perimeter"], ref["perimeter"])


def test_empty_label_image_gives_empty_columns():
    columns = measure_objects(np.zeros((10, 10), dtype=np.uint16), np.ones((10, 10)), pixel_size_um=1.0)
    assert all(len(v) == 0 for v in columns.values()) and "area_um2" in columns


@pytest.mark.parametrize(
    ("labels", "image", "kwargs", "match"),
    [
        (np.zeros((5, 5), dtype=np.float32), None, {}, "integer"),
        (np.full((5, 5), -1), None, {}, ">= 0"),
        (np.zeros((5, 5), dtype=int), np.zeros((1, 5, 6)), {}, "does not cover"),
        (np.zeros((5, 5), dtype=int), None, {"pixel_size_um": -2}, "pixel_size_um"),
        (np.zeros((5, 5), dtype=int), None, {"block": 2}, "block"),
    ],
)
def test_bad_input(labels, image, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        measure_objects(labels, image, **kwargs)
