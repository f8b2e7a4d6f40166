"""`segstudio predict` and `segstudio evaluate` with a classification model: a CSV of each image's class and
every class's probability; accuracy, balanced accuracy, macro-F1, top-2, the per-class table and the
confusion matrix on images with known classes (from a CSV or from a project); `train --type
classification` is one of the types."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.cli import build_parser, main
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import SUCCEEDED, Shape, Training
from core.predictions import MODELS_DIR
from core.projects import create_project, import_files
from tests.inference.class_model import (
    CLASSES,
    picture,
    save_picture,
    save_pictures,
    tiny_classifier_package,
)

KINDS = ["dark", "dark", "medium", "bright", "bright"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    save_pictures(images, KINDS)
    return images


@pytest.fixture
def trained(app_env, tmp_path: Path, folder: Path) -> tuple[str, int, dict[str, int]]:
    """A project with the folder's images and their classes, and a finished training whose model is the
    tiny classifier (trained, as its split says, on the two dark images)."""
    engine = make_engine(app_env.database_url)
    project = create_project(app_env, engine, "Cells")
    files = [(p.name, p) for p in sorted(folder.iterdir())]
    images = import_files(app_env, engine, project.id, files).imported
    package = tiny_classifier_package(app_env.data_dir / "trainings" / "1" / "model")
    with session_scope(engine) as s:
        ids = {name: repo.add_label(s, project.id, name).id for name in CLASSES}
        for image in images:
            repo.set_image_class(s, image.id, ids[image.name.rstrip("0123456789.png")])
        training = repo.add_training(s, Training(
            project_id=project.id, name="brightness", status=SUCCEEDED,
            model_dir=package.relative_to(app_env.data_dir).as_posix(),
            split={"train": [im.id for im in images if im.name.startswith("dark")],
                   "val": [im.id for im in images if not im.name.startswith("dark")]}))
    return "brightness", training.id, ids


def test_predict_writes_each_images_class_and_probabilities_as_csv(app_env, capsys, tmp_path, folder):
    tiny_classifier_package(app_env.data_dir / MODELS_DIR / "brightness")
    save_picture(folder / "large.png", picture("medium", size=(160, 150), seed=7))
    out = tmp_path / "out"

    code = main(["predict", "brightness", str(folder), "--out", str(out), "--json"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    records = json.loads(stdout)
    assert [r["result_kind"] for r in records] == ["classes"] * 6
    predicted = [r["prediction"]["class"] for r in records]
    assert predicted == ["bright", "bright", "dark", "dark", "medium", "medium"]
    assert all(Path(r["classes"]).is_file() for r in records)
    large = next(r for r in records if r["input"].endswith("large.png"))
    assert large["prediction"]["tiles"] > 1 and "averaged" in large["warnings"][0]
    assert "warning: large.png: the image is larger than the model's input" in err
    with open(out / "classes.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["image", "class", "probability", "second_class", "second_probability", "tiles",
                             "p_dark", "p_medium", "p_bright"]
    assert [r["image"] for r in rows] == [Path(r["input"]).name for r in records]
    assert [r["class"] for r in rows] == [r["prediction"]["class"] for r in records]
    assert all(abs(sum(float(r[f"p_{c}"]) for c in CLASSES) - 1) < 1e-4 for r in rows)

    code = main(["predict", "brightness", str(folder / "dark0.png"), "--out", str(tmp_path / "plain")])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "dark0.png: dark (p = " in stdout and "-> dark0_class.csv" in stdout
    assert "Classes of 1 image(s); the table of all: " in stdout and "classes.csv" in stdout


def test_evaluate_on_a_folder_and_a_csv_prints_every_score(app_env, capsys, tmp_path, folder, trained):
    name, _, _ = trained
    truth = tmp_path / "truth.csv"
    # one wrong truth (medium2 said dark; the model's runner-up for it is dark), a class the model lacks, a
    # row naming no image; bright4 unlisted
    truth.write_text("stem,class\ndark0,dark\ndark1.png,Dark\nmedium2,dark\nbright3,bright\n"
                     "ghost,dark\nbright3x,platelet\n", encoding="utf-8")
    report = tmp_path / "scores" / "eval.json"

    code = main(["evaluate", name, "--images", str(folder), "--classes", str(truth), "--out", str(report)])
    stdout, err = capsys.readouterr()
    assert code == 1  # rows that could not be used are errors; the rest is scored
    assert "the class 'platelet' is not one of the model's (dark, medium, bright)" in err
    assert "1 row(s) name no image of" in err and "ghost" in err
    assert "note: 1 image(s) of" in err and "bright4.png" in err
    # balanced: the mean recall of dark (2/3) and bright (1); macro-F1: dark 0.8 (precision 1, recall 2/3),
    # bright 1, and medium (predicted once, never true) 0; top-2: medium2's runner-up is dark
    assert ("4 image(s). Overall: accuracy 0.750, balanced accuracy 0.833, macro-F1 0.600, "
            "top-2 accuracy 1.000") in stdout
    assert "precision   recall       F1  support" in stdout
    assert "Confusion (rows: true class, columns: predicted class):" in stdout
    record = json.loads(report.read_text())
    assert record["images"] == 4 and record["overall"]["accuracy"] == pytest.approx(0.75)
    assert record["confusion"] == [[2, 1, 0], [0, 0, 0], [0, 0, 1]]  # rows: true dark, medium, bright
    wrong = [r for r in record["per_image"] if not r["correct"]]
    assert [(r["image"], r["true"], r["predicted"]) for r in wrong] == [("medium2.png", "dark", "medium")]
    assert {r["class"]: r["support"] for r in record["per_class"]} == {"dark": 3, "medium": 0, "bright": 1}


def test_evaluate_on_the_project_leaves_out_the_training_images(app_env, capsys, trained):
    name, _, _ = trained
    code = main(["evaluate", name, "--project", "Cells", "--json"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    record = json.loads(stdout)
    assert "note: left out 2 image(s) of 'Cells' that the model was trained on" in err
    assert record["images"] == 3 and record["overall"]["accuracy"] == pytest.approx(1.0)
    assert record["overall"]["top2_accuracy"] == pytest.approx(1.0)
    assert sorted(r["image"] for r in record["per_image"]) == ["bright3.png", "bright4.png", "medium2.png"]


def test_evaluate_on_the_project_scores_the_rois_that_carry_a_class_too(app_env, capsys, trained):
    """An ROI with a class is one more example (its crop), as the training reads it; a training image's ROIs
    are left out with it."""
    name, training_id, ids = trained
    engine = make_engine(app_env.database_url)
    with session_scope(engine) as s:
        images = {im.name: im.id for im in repo.list_images(s, repo.find_project(s, "Cells").id)}
        for image in ("bright3.png", "dark0.png"):  # dark0 trained the model
            s.add(Shape(image_id=images[image], label_id=ids["bright"], kind="roi", geometry="rectangle",
                        points=[[2, 2], [30, 2], [30, 30], [2, 30]]))
        s.commit()
    code = main(["evaluate", name, "--project", "Cells", "--json"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    record = json.loads(stdout)
    assert record["images"] == 4
    rows = {r["image"]: r for r in record["per_image"]}
    assert rows["bright3.png · ROI 1"]["true"] == "bright" and "dark0.png · ROI 1" not in rows


def test_evaluate_of_a_classifier_says_which_ground_truth_it_needs(app_env, capsys, folder, trained):
    name, _, _ = trained
    assert main(["evaluate", name, "--images", str(folder), "--masks", str(folder)]) == 1
    assert "is a classification model: give the known classes as --classes CSV" in capsys.readouterr().err
    assert main(["evaluate", name]) == 1
    assert "either as --images FOLDER with --classes CSV" in capsys.readouterr().err
    assert main(["evaluate", name, "--images", str(folder)]) == 1
    assert "either as --images FOLDER with --classes CSV" in capsys.readouterr().err


def test_train_takes_the_classification_type():
    args = build_parser().parse_args(["train", "Cells", "--name", "c", "--type", "classification",
                                      "--labels", "dark", "bright"])
    assert args.type == "classification" and args.labels == ["dark", "bright"]


def test_the_known_classes_are_read_as_the_class_import_reads_them(tmp_path, folder):
    """The evaluation reads its CSV with the class import's reader: semicolons, a header naming its columns
    among others, a bad row by line; an image listed with two classes is left out, one listed twice once."""
    from core.class_evaluation import folder_class_examples

    truth = tmp_path / "truth.csv"
    truth.write_text("label;notes;image\ndark;x;dark0\ndark;y;dark0.png\nbright;;bright3\ndark;;bright3\n"
                     ";;medium2\nmedium;;medium2\n", encoding="utf-8")
    examples, problems, notes = folder_class_examples(folder, truth, list(CLASSES), tmp_path)
    assert sorted((e.name, CLASSES[e.label]) for e in examples) == [("dark0.png", "dark"),
                                                                   ("medium2.png", "medium")]
    assert any("truth.csv line 6" in p and "the class is empty" in p for p in problems)
    assert "1 image(s) are listed with different classes and were left out: bright3" in problems
    assert any("read with semicolons" in n for n in notes) and any("read as the header" in n for n in notes)
    assert any("have no class in truth.csv" in n and "bright4.png" in n for n in notes)
