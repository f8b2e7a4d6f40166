"""Exports: GeoJSON validates and round-trips to the same objects, CSV, label TIFFs per label, the ZIP."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
import tifffile
from shapely.geometry import shape

from core.errors import InvalidInputError
from core.inference import (
    Predictor,
    export_prediction,
    export_zip,
    measure_prediction,
    predict_image,
    write_geojson,
)
from core.inference.polygons import rasterize
from tests.evaluation.helpers import random_discs
from tests.inference.helpers import Pointwise, bumps, pointwise_card


def _tricky_labels() -> np.ndarray:
    labels = random_discs((120, 150), 30, seed=2, radius=(2, 15))
    labels[5:15, 5:15] = 99
    labels[8:12, 8:12] = 0
    labels[9:11, 9:11] = 99  # a ring with an island: two pieces, one with a hole
    labels[100, 100] = 98
    labels[101, 101] = 98  # two pixels touching at a corner
    labels[60:70, 130:140] = 97
    labels[64, 134] = 0
    labels[65, 135] = 0  # a hole made of two diagonal pixels
    return labels


def _write_labels(path: Path, planes: np.ndarray, names: list[str], training_type: str = "instance") -> Path:
    description = json.dumps(
        {"labels": names, "training_type": training_type, "label_ids": list(range(len(names)))}
    )
    data = planes if len(planes) > 1 else planes[0]
    tifffile.imwrite(
        path,
        data.astype(np.uint16),
        tile=(32, 32),
        description=description,
        metadata=None,
        planarconfig="separate" if len(planes) > 1 else None,
    )
    return path


def _check_ring(ring: list, *, exterior: bool) -> None:
    assert ring[0] == ring[-1] and len(ring) >= 4
    assert shapely.LinearRing(ring).is_ccw == exterior


def test_geojson_validates_and_round_trips(tmp_path: Path, monkeypatch):
    import core.inference.export as export

    monkeypatch.setattr(export, "GEOJSON_BLOCK", 32)  # many windows, objects cut by window borders
    labels = _tricky_labels()
    second = random_discs((120, 150), 12, seed=9, radius=(4, 12))
    path = _write_labels(tmp_path / "labels.tif", np.stack([labels, second]), ["nucleus", "cell"])
    columns = measure_prediction(path, None)
    count = write_geojson(path, tmp_path / "objects.geojson", columns, colors=["#ff0000", "#00ff80"])
    data = json.loads((tmp_path / "objects.geojson").read_text())
    assert data["type"] == "FeatureCollection" and len(data["features"]) == count
    assert count == len(np.unique(labels)) - 1 + len(np.unique(second)) - 1
    rebuilt = {"nucleus": np.zeros_like(labels), "cell": np.zeros_like(second)}
    for feature in data["features"]:
        geometry, props = feature["geometry"], feature["properties"]
        assert feature["type"] == "Feature" and geometry["type"] in ("Polygon", "MultiPolygon")
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for rings in polygons:
            _check_ring(rings[0], exterior=True)
            for hole in rings[1:]:
                _check_ring(hole, exterior=False)
        geom = shape(geometry)
        assert geom.is_valid
        name = props["classification"]["name"]
        assert props["classification"]["color"] == ([255, 0, 0] if name == "nucleus" else [0, 255, 128])
        assert props["objectType"] == "detection" and props["label"] == name
        assert props["measurements"]["area"] == pytest.approx(geom.area)
        mask = rasterize(geom, labels.shape)
        assert not (rebuilt[name][mask] > 0).any()
        rebuilt[name][mask] = props["object_id"]
    assert np.array_equal(rebuilt["nucleus"], labels)  # same objects, pixel for pixel (IoU 1)
    assert np.array_equal(rebuilt["cell"], second)


def test_geojson_of_objects_too_large_for_one_window(tmp_path: Path, monkeypatch):
    import core.inference.export as export

    monkeypatch.setattr(export, "MAX_WINDOW_PIXELS", 50)
    labels = random_discs((60, 80), 8, seed=4, radius=(3, 9))
    path = _write_labels(tmp_path / "labels.tif", labels[None], ["n"])
    write_geojson(path, tmp_path / "o.geojson", measure_prediction(path, None))
    features = json.loads((tmp_path / "o.geojson").read_text())["features"]
    for feature in features:
        assert np.array_equal(
            rasterize(shape(feature["geometry"]), labels.shape), labels == feature["properties"]["object_id"]
        )


def test_prediction_exports_and_zip(tmp_path: Path):
    predictor = Predictor(Pointwise("instance"), pointwise_card("instance"))
    image = bumps((150, 220), seed=2, n=40)
    result = predict_image(
        image, predictor, tile=32, halo=0, block=64, context=32, out=tmp_path / "img_labels.tif"
    )
    files = export_prediction(result.path, image, tmp_path / "out", stem="img", pixel_size_um=0.25)
    assert files["csv"].name == "img_objects.csv" and files["geojson"].name == "img.geojson"
    with open(files["csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == result.counts[0]
    assert {"label", "id", "area", "area_um2", "perimeter_um", "mean_intensity_c0", "solidity"} <= set(
        rows[0]
    )
    assert float(rows[0]["area_um2"]) == pytest.approx(float(rows[0]["area"]) * 0.0625)
    zpath = export_zip(result.path, image, tmp_path / "export.zip", stem="img")
    with zipfile.ZipFile(zpath) as zf:
        assert sorted(zf.namelist()) == ["img.geojson", "img_label0_labels.tif", "img_objects.csv"]
        zf.extract("img_label0_labels.tif", tmp_path / "unzipped")
    assert np.array_equal(
        tifffile.imread(tmp_path / "unzipped" / "img_label0_labels.tif"), tifffile.imread(result.path)
    )


def test_semantic_zip_holds_masks(tmp_path: Path):
    predictor = Predictor(Pointwise("semantic", 2), pointwise_card("semantic", 2))
    image = bumps((100, 130), seed=6, n=20)
    result = predict_image(image, predictor, tile=32, halo=0, block=64, context=32, out=tmp_path / "l.tif")
    zpath = export_zip(result.path, None, tmp_path / "e.zip", stem="x y")
    with zipfile.ZipFile(zpath) as zf:
        names = sorted(zf.namelist())
        assert names == ["x_y.geojson", "x_y_label0_mask.tif", "x_y_label1_mask.tif", "x_y_objects.csv"]
        zf.extractall(tmp_path / "u")
    mask = tifffile.imread(tmp_path / "u" / "x_y_label0_mask.tif")
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    assert np.array_equal(mask > 0, tifffile.imread(result.path)[0] > 0)


def test_bad_colours_and_images(tmp_path: Path):
    labels = random_discs((30, 30), 3, seed=1)
    path = _write_labels(tmp_path / "l.tif", labels[None], ["n"])
    columns = measure_prediction(path, None)
    with pytest.raises(InvalidInputError, match="colour"):
        write_geojson(path, tmp_path / "o.geojson", columns, colors=["red"])
    with pytest.raises(InvalidInputError, match="1 label"):
        write_geojson(path, tmp_path / "o.geojson", columns, colors=["#ff0000", "#00ff00"])
    with pytest.raises(InvalidInputError, match="does not match"):
        measure_prediction(path, np.zeros((1, 31, 30)))
