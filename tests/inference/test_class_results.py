"""What a classification model's prediction writes: the predicted class with every class's probability per
image (tiles averaged for large images, and said so), the run's table as CSV; the writer is chosen by the
registry's result kind."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from core.classification.predict import load_classifier
from core.errors import InvalidInputError, ModelPackageError
from core.inference import classes
from core.inference.classes import class_record, read_class_table, write_class_table
from core.inference.results import RESULT_WRITERS, card_writer, predict_file
from core.training.package import read_card
from tests.inference.class_model import CLASSES, picture, save_picture, tiny_classifier_package


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return tiny_classifier_package(tmp_path_factory.mktemp("classifier") / "model")


def test_the_record_names_the_class_its_probability_and_the_runner_up():
    record = class_record(np.array([0.2, 0.7, 0.1]), ["a", "b", "c"], tiles=4)
    assert record == {
        "class": "b", "probability": pytest.approx(0.7), "second_class": "a",
        "second_probability": pytest.approx(0.2),
        "probabilities": {"a": pytest.approx(0.2), "b": pytest.approx(0.7), "c": pytest.approx(0.1)},
        "tiles": 4,
    }
    tie = class_record(np.array([0.5, 0.5]), ["x", "y"])
    assert (tie["class"], tie["second_class"]) == ("x", "y")  # a tie goes to the class listed first
    alone = class_record(np.array([1.0]), ["only"])
    assert alone["second_class"] is None and alone["second_probability"] is None


def test_the_record_refuses_probabilities_that_do_not_fit_the_classes():
    with pytest.raises(InvalidInputError, match=r"2 probabilit.* for 3 class"):
        class_record(np.array([0.5, 0.5]), ["a", "b", "c"])
    with pytest.raises(InvalidInputError, match="not all finite"):
        class_record(np.array([np.nan, 1.0]), ["a", "b"])


def test_the_table_has_one_row_per_image_and_one_probability_column_per_class(tmp_path):
    rows = [("one.png", class_record(np.array([0.1, 0.9]), ["cat", "dog"])),
            ("two.png", class_record(np.array([0.6, 0.4]), ["cat", "dog"], tiles=6))]
    path = write_class_table(tmp_path / "classes.csv", rows)
    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == ["image", "class", "probability", "second_class", "second_probability", "tiles",
                      "p_cat", "p_dog"]
    back = read_class_table(path)
    assert [(r["image"], r["class"], r["tiles"]) for r in back] == [("one.png", "dog", 1),
                                                                     ("two.png", "cat", 6)]
    assert back[0]["probability"] == pytest.approx(0.9) and back[1]["p_dog"] == pytest.approx(0.4)


def test_classes_have_their_writer_by_the_registry_result_kind(package):
    writer = card_writer(read_card(package))
    assert writer is RESULT_WRITERS["classes"]
    assert writer.files == ("classes",) and writer.keep == ("prediction",)


def test_a_stored_image_gets_its_class_probabilities_and_a_one_row_csv(package, tmp_path):
    classifier = load_classifier(package)
    path = save_picture(tmp_path / "b.png", picture("bright"))
    result = predict_file(classifier, path, tmp_path / "out", "b", pixel_size_um=None)
    assert result["result_kind"] == "classes" and result["counts"] == {} and result["warnings"] == []
    record = result["prediction"]
    assert record["class"] == "bright" and record["tiles"] == 1
    assert list(record["probabilities"]) == list(CLASSES)
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    [row] = read_class_table(result["classes"])
    assert row["image"] == "b" and row["class"] == "bright" and row["p_bright"] == pytest.approx(
        record["probability"], abs=1e-6)
    assert RESULT_WRITERS["classes"].describe(result).startswith("bright (p = ")
    assert RESULT_WRITERS["classes"].archive(result, tmp_path, "b") == [result["classes"]]


def test_a_large_image_is_classified_from_tiles_and_the_result_says_so(package, tmp_path):
    classifier = load_classifier(package)
    path = tmp_path / "large.tif"
    tifffile.imwrite(path, picture("dark", size=(200, 150)), photometric="rgb", planarconfig="separate")
    result = predict_file(classifier, path, tmp_path / "out", "large", pixel_size_um=None)
    record = result["prediction"]
    assert record["class"] == "dark" and record["tiles"] > 1
    assert result["warnings"] == [classes.tiles_warning(record["tiles"])]
    assert f"{record['tiles']} tiles" in result["warnings"][0] and "averaged" in result["warnings"][0]


def test_an_image_of_other_channels_or_too_large_is_refused_with_what_to_do(package, tmp_path, monkeypatch):
    classifier = load_classifier(package)
    grey = tmp_path / "grey.png"
    save_picture(grey, picture("medium", channels=1))
    with pytest.raises(ModelPackageError, match="expects 3 channels"):
        predict_file(classifier, grey, tmp_path / "out", "grey", pixel_size_um=None)
    monkeypatch.setattr(classes, "MAX_MEGAPIXELS", 0.001)
    path = save_picture(tmp_path / "m.png", picture("medium"))
    with pytest.raises(InvalidInputError, match=r"reads the whole image, at most 0 megapixels\. Crop"):
        predict_file(classifier, path, tmp_path / "out", "m", pixel_size_um=None)


def test_the_run_summary_of_classes_is_the_class_table(tmp_path):
    record = class_record(np.array([0.3, 0.7]), ["a", "b"])
    path = RESULT_WRITERS["classes"].summary(tmp_path, [("x.png", {"prediction": record, "counts": {}})])
    assert path.name == "classes.csv" and read_class_table(path)[0]["class"] == "b"
    counts = RESULT_WRITERS["labels"].summary(tmp_path, [("x.png", {"counts": {"nucleus": 3}})])
    assert counts.name == "counts.csv"  # the other kinds keep their counts table
