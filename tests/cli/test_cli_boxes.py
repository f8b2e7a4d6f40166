"""`segstudio import ... --boxes`: boxes matched to the images of the same call (or of the project), the
outcome as lines, exit code 1 only when nothing could be imported."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image as PILImage

from core.cli import main
from core.db import repo, session_scope
from core.db.engine import make_engine


def _images(folder, rng) -> None:
    folder.mkdir()
    for stem in ("a", "b"):
        PILImage.fromarray(rng.integers(0, 255, (30, 40), dtype=np.uint8)).save(folder / f"{stem}.png")


def _rectangles(settings) -> dict[str, list[list[list[float]]]]:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        project = repo.find_project(s, "P")
        return {im.name: [sh.points for sh in repo.list_shapes(s, im.id) if sh.geometry == "rectangle"]
                for im in repo.list_images(s, project.id)}


def test_import_images_and_their_boxes_in_one_call(app_env, tmp_path, capsys, rng):
    _images(tmp_path / "images", rng)
    boxes = tmp_path / "boxes"
    boxes.mkdir()
    (boxes / "a.csv").write_text("label,x_min,y_min,x_max,y_max\ncell,2,3,12,13\ncell,30,20,50,40\n"
                                 "mito,1,1,4,4\n")
    (boxes / "zz.csv").write_text("label,x_min,y_min,x_max,y_max\ncell,1,1,4,4\n")
    assert main(["project", "create", "P"]) == 0
    assert main(["labels", "add", "P", "cell"]) == 0
    capsys.readouterr()
    code = main(["import", "P", str(tmp_path / "images"), "--boxes", str(boxes)])
    out, err = capsys.readouterr()
    assert code == 0, err  # some boxes are in: the problems are listed, not fatal
    assert "Imported 2 of 2 files into 'P'." in out
    assert "Imported 2 box(es) into 1 image(s): cell 2." in out
    assert "warning: boxes/a.csv line 3 (a.png, 40×30 px): box 'cell' x 30–50, y 20–40 reaches outside" in out
    assert "error: label 'mito' is not a label of project 'P'" in err and "segstudio labels add P mito" in err
    assert "error: boxes/zz.csv: image 'zz' matches no image of project 'P'" in err
    assert _rectangles(app_env) == {"a.png": [[[2, 3], [12, 3], [12, 13], [2, 13]],
                                              [[30, 20], [40, 20], [40, 30], [30, 30]]], "b.png": []}

    code = main(["import", "P", str(tmp_path / "images"), "--boxes", str(boxes)])  # the same call again
    out, err = capsys.readouterr()
    assert code == 0
    assert "All 2 box(es) are in the project already; nothing was added." in out
    assert len(_rectangles(app_env)["a.png"]) == 2  # nothing doubled


def test_boxes_alone_for_the_projects_images_and_json(app_env, tmp_path, capsys, rng):
    _images(tmp_path / "images", rng)
    main(["project", "create", "P"])
    main(["labels", "add", "P", "cell"])
    main(["import", "P", str(tmp_path / "images")])
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "classes.txt").write_text("cell\n")
    (labels / "b.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    capsys.readouterr()
    code = main(["import", "P", "--boxes", str(labels), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    record = json.loads(out)["boxes"]
    assert record["imported"] == 1 and record["by_label"] == {"cell": 1}
    assert any("YOLO class names from labels/classes.txt: 0 = cell" in m["text"] for m in record["messages"])
    assert _rectangles(app_env)["b.png"] == [[[10, 7.5], [30, 7.5], [30, 22.5], [10, 22.5]]]


def test_exit_code_1_when_no_box_could_be_imported(app_env, tmp_path, capsys):
    main(["project", "create", "P"])
    (tmp_path / "bad.json").write_text("{not json")
    capsys.readouterr()
    assert main(["import", "P", "--boxes", str(tmp_path / "bad.json")]) == 1
    err = capsys.readouterr().err
    assert "error: No box was imported." in err and "error: bad.json: not valid JSON" in err
    assert main(["import", "P"]) == 1  # neither images nor boxes
    assert "give files or folders of images (or --boxes FILE" in capsys.readouterr().err
