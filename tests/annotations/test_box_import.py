"""Importing bounding boxes from COCO, Pascal VOC, YOLO and CSV files: every format with bad entries, matching
by file name and stem, never doubling, YOLO class names, ZIPs, and the real BCCD boxes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from core import projects as ops
from core.annotations.boxes import detect_format, fit_box, read_boxes
from core.box_import import import_boxes
from core.db import repo, session_scope
from core.db.models import BACKGROUND, NOT_ANNOTATED
from core.errors import InvalidInputError
from tests.conftest import SHARED_DATA

SIZES = {"a.png": (40, 30), "b.png": (50, 40), "c.png": (20, 20)}  # name -> (width, height)


@pytest.fixture
def project(settings, engine, tmp_path):
    """A project with the labels cell and nucleus and three tiny images of seeded noise."""
    proj = ops.create_project(settings, engine, "P")
    with session_scope(engine) as s:
        repo.add_label(s, proj.id, "cell")
        repo.add_label(s, proj.id, "nucleus")
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    pairs = []
    for name, (w, h) in SIZES.items():
        PILImage.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).save(folder / name)
        pairs.append((name, folder / name))
    report = ops.import_files(settings, engine, proj.id, pairs)
    assert report.ok, report.errors
    return proj.id


def _boxes(engine, name: str) -> list[tuple[str, list[list[float]], str]]:
    """(label name, corners, source) of an image's annotations, in the order stored."""
    with session_scope(engine) as s:
        image = next(im for im in repo.list_images(s, 1) if im.name == name)
        labels = {lab.id: lab.name for lab in repo.list_labels(s, 1)}
        return [(labels[sh.label_id], sh.points, sh.source) for sh in repo.list_shapes(s, image.id)
                if sh.geometry == "rectangle"]


def _status(engine, name: str) -> str:
    with session_scope(engine) as s:
        return next(im.status for im in repo.list_images(s, 1) if im.name == name)


def _corners(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def _errors(outcome) -> str:
    return "\n".join(outcome.errors)


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


# --- fitting ----------------------------------------------------------------------------------------------
def test_fit_box_keeps_clips_and_refuses():
    assert fit_box((2, 3, 12, 13), 40, 30) == ("ok", (2, 3, 12, 13))
    assert fit_box((30, 20, 50, 40), 40, 30) == ("clipped", (30, 20, 40, 30))
    assert fit_box((-5, 0, 3, 4), 40, 30) == ("clipped", (0, 0, 3, 4))
    assert fit_box((100, 100, 120, 120), 40, 30)[0] == "outside"
    assert fit_box((39.5, 0, 45, 10), 40, 30)[0] == "outside"  # half a pixel inside
    assert fit_box((5, 5, 5.5, 9), 40, 30)[0] == "degenerate"
    assert fit_box((9, 5, 5, 9), 40, 30)[0] == "degenerate"  # minimum after maximum


# --- CSV --------------------------------------------------------------------------------------------------
def test_csv_per_image_files_with_bad_entries(settings, engine, project, tmp_path):
    folder = tmp_path / "boxes"
    _write(folder / "a.csv", "label,x_min,y_min,x_max,y_max\n"
                             "cell,2,3,12,13\n"
                             "nucleus,30,20,50,40\n"  # partly outside: clipped
                             "cell,100,100,120,120\n"  # outside
                             "cell,5,5,5.5,9\n"  # degenerate
                             "mito,1,1,4,4\n"  # unknown label
                             "cell,one,1,4,4\n")  # not a number
    _write(folder / "zz.csv", "label,x_min,y_min,x_max,y_max\ncell,1,1,4,4\n")  # no image zz
    _write(folder / "broken.csv", b"label,x_min\xff\xfe,y_min\n\x00\x81")  # not UTF-8
    _write(folder / "c.csv", "label,x_min,y_min,x_max,y_max\n")  # c has no objects
    outcome = import_boxes(settings, engine, project, folder)
    errors = _errors(outcome)
    assert outcome.boxes == 2 and outcome.images == 1 and outcome.by_label == {"cell": 1, "nucleus": 1}
    assert _boxes(engine, "a.png") == [("cell", _corners(2, 3, 12, 13), "import"),
                                       ("nucleus", _corners(30, 20, 40, 30), "import")]
    assert "boxes/a.csv line 3 (a.png, 40×30 px): box 'nucleus' x 30–50, y 20–40 reaches outside" in \
        outcome.clipped[0] and "clipped to x 30–40, y 20–30" in outcome.clipped[0]
    assert "boxes/a.csv line 4 (a.png, 40×30 px): box 'cell' x 100–120, y 100–120 lies outside" in errors
    assert "boxes/a.csv line 5 (a.png, 40×30 px): box 'cell' x 5–5.5, y 5–9 is 0.5×4 px" in errors
    assert "label 'mito' is not a label of project 'P': its 1 box(es) in boxes/a.csv (1)" in errors
    assert "Add the label 'mito' to the project" in errors and "'cell', 'nucleus'" in errors
    assert "boxes/a.csv line 7: x_min 'one' not a number" in errors
    assert "boxes/zz.csv: image 'zz' matches no image of project 'P'" in errors
    assert "boxes/broken.csv: could not be read as CSV (not UTF-8 text" in errors
    assert outcome.background == ["c.png"] and _status(engine, "c.png") == BACKGROUND
    assert _status(engine, "b.png") == NOT_ANNOTATED

    again = import_boxes(settings, engine, project, folder)  # the same file again adds nothing
    assert again.boxes == 0 and again.already == 2 and again.stored
    assert len(_boxes(engine, "a.png")) == 2
    assert "a.png (1 cell; 1 nucleus)" in again.same[0] and "are in the project already" in again.same[0]
    assert again.background == []  # marked already

    _write(folder / "a.csv", "label,x_min,y_min,x_max,y_max\ncell,1,1,9,9\n")  # a different box of cell
    kept = import_boxes(settings, engine, project, folder / "a.csv")
    assert kept.boxes == 0 and not kept.stored
    assert "a.png (cell: 1 there, 1 in the file)" in kept.kept[0] and "--replace-annotations" in kept.kept[0]
    replaced = import_boxes(settings, engine, project, folder / "a.csv", replace=True)
    assert replaced.boxes == 1 and "a.png (cell: 1 there, 1 in the file)" in replaced.replaced[0]
    assert _boxes(engine, "a.png") == [("nucleus", _corners(30, 20, 40, 30), "import"),
                                       ("cell", _corners(1, 1, 9, 9), "import")]


def test_one_csv_with_an_image_column(settings, engine, project, tmp_path):
    path = _write(tmp_path / "all.csv", "image,label,x_min,y_min,x_max,y_max\n"
                                        "a.png,cell,0,0,4,4\n"
                                        "b,nucleus,10,10,20,30\n"  # by stem
                                        "B.PNG,cell,1,2,3,4\n"  # the name, ignoring case
                                        "ghost.png,cell,1,1,2,2\n"
                                        "ghost.png,cell,2,2,5,5\n"
                                        "other.tif,cell,1,1,2,2\n"
                                        ",cell,1,1,2,2\n")
    outcome = import_boxes(settings, engine, project, path)
    assert outcome.boxes == 3 and outcome.images == 2
    assert _boxes(engine, "b.png") == [("cell", _corners(1, 2, 3, 4), "import"),
                                       ("nucleus", _corners(10, 10, 20, 30), "import")]
    errors = _errors(outcome)
    assert "all.csv: 2 images with boxes match no image of project 'P'" in errors
    assert "ghost.png (2), other.tif (1)" in errors
    assert "all.csv line 8: no image named in the image column" in errors


def test_csv_with_a_wrong_header_is_one_line(settings, engine, project, tmp_path):
    path = _write(tmp_path / "a.csv", "class,xmin,ymin,xmax,ymax\ncell,1,1,4,4\n")
    outcome = import_boxes(settings, engine, project, path)
    assert not outcome.stored and len(outcome.errors) == 1
    assert "a.csv: its header (class,xmin,ymin,xmax,ymax) lacks label, x_min" in outcome.errors[0]
    assert outcome.messages()[0] == ("error", "No box was imported.")


# --- COCO -------------------------------------------------------------------------------------------------
def _coco(**changes):
    data = {
        "images": [{"id": 1, "file_name": "train/a.png", "width": 40, "height": 30},
                   {"id": 2, "file_name": "b.png", "width": 100, "height": 100},  # not b's size
                   {"id": 3, "file_name": "ghost.png", "width": 40, "height": 30},
                   {"id": 4, "file_name": "c.png", "width": 20, "height": 20}],  # no annotations
        "categories": [{"id": 1, "name": "cell"}, {"id": 2, "name": "nucleus"}, {"id": 3, "name": "mito"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [2.5, 3, 10, 10]},
            {"id": 11, "image_id": 1, "category_id": 2, "bbox": [35, 25, 10, 10]},  # partly outside
            {"id": 12, "image_id": 1, "category_id": 1, "bbox": [50, 50, 5, 5]},  # outside
            {"id": 13, "image_id": 1, "category_id": 1, "bbox": [5, 5, 0.5, 3]},  # degenerate
            {"id": 14, "image_id": 1, "category_id": 3, "bbox": [1, 1, 3, 3]},  # unknown label
            {"id": 15, "image_id": 1, "category_id": 9, "bbox": [1, 1, 3, 3]},  # no such category
            {"id": 16, "image_id": 1, "category_id": 1, "bbox": [1, 1, 3]},  # malformed
            {"id": 17, "image_id": 2, "category_id": 1, "bbox": [1, 1, 3, 3]},  # wrong image size
            {"id": 18, "image_id": 3, "category_id": 1, "bbox": [1, 1, 3, 3]},  # no such image in the project
            {"id": 19, "image_id": 7, "category_id": 1, "bbox": [1, 1, 3, 3]},  # no such image in the file
            {"id": 20, "image_id": 1, "category_id": 1, "bbox": [2.5, 3, 10, 10]},  # the first one again
        ],
    }
    data.update(changes)
    return json.dumps(data)


def test_coco_with_bad_entries(settings, engine, project, tmp_path):
    path = _write(tmp_path / "ann.json", _coco())
    outcome = import_boxes(settings, engine, project, path)
    errors = _errors(outcome)
    assert outcome.boxes == 2 and outcome.images == 1
    assert _boxes(engine, "a.png") == [("cell", _corners(2.5, 3, 12.5, 13), "import"),
                                       ("nucleus", _corners(35, 25, 40, 30), "import")]
    assert "ann.json annotation 11 (a.png, 40×30 px)" in outcome.clipped[0]
    assert "ann.json annotation 12 (a.png, 40×30 px): box 'cell' x 50–55, y 50–55 lies outside" in errors
    assert "ann.json annotation 13 (a.png, 40×30 px): box 'cell' x 5–5.5, y 5–8 is 0.5×3 px" in errors
    assert "label 'mito' is not a label of project 'P': its 1 box(es) in ann.json (1)" in errors
    assert "ann.json: 1 annotation(s) have category_id 9, which categories[] does not name" in errors
    assert "ann.json annotation 16: bbox [1, 1, 3] is not [x, y, width, height]" in errors
    assert "ann.json: says b.png is 100×100 px, but the project's b.png is 50×40 px" in errors
    assert "ann.json: image 'ghost.png' matches no image of project 'P'" in errors
    assert "ann.json: 1 annotation(s) name image_id 7, which images[] does not list" in errors
    assert any("listed twice for the same image and label were imported once: ann.json annotation 20" in n
               for n in outcome.notes)
    assert outcome.background == ["c.png"]
    assert import_boxes(settings, engine, project, path).already == 2  # again: nothing doubled
    assert len(_boxes(engine, "a.png")) == 2


@pytest.mark.parametrize("text, says", [
    ("{\"images\": [", "ann.json: not valid JSON (line 1, column"),
    ("[1, 2]", "ann.json: not a COCO detection file"),
])
def test_a_corrupt_coco_file_is_one_line(settings, engine, project, tmp_path, text, says):
    outcome = import_boxes(settings, engine, project, _write(tmp_path / "ann.json", text))
    assert not outcome.stored and len(outcome.errors) == 1 and outcome.errors[0].startswith(says)


def test_coco_ids_that_are_not_numbers_or_text_match_nothing(settings, engine, project, tmp_path):
    path = _write(tmp_path / "odd.json", json.dumps({
        "images": [{"id": [1], "file_name": "a.png"}, {"id": True, "file_name": "b.png"}],
        "categories": [{"id": {"x": 1}, "name": "cell"}],
        "annotations": [{"id": 1, "image_id": [1], "category_id": {"x": 1}, "bbox": [1, 1, 2, 2]}]}))
    outcome = import_boxes(settings, engine, project, path)
    assert not outcome.stored
    assert "odd.json: 2 entr(ies) of images[] have no id or file_name" in _errors(outcome)
    assert "odd.json: 1 annotation(s) name image_id None" in _errors(outcome)


# --- Pascal VOC -------------------------------------------------------------------------------------------
def _voc(filename: str, objects: list[tuple[str, tuple]], size=(40, 30)) -> str:
    parts = [f"<annotation><folder>x</folder><filename>{filename}</filename>"
             f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>1</depth></size>"]
    for name, (x0, y0, x1, y1) in objects:
        parts.append(f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x0}</xmin>"
                     f"<ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>")
    return "".join(parts) + "</annotation>"


def test_voc_folder_with_bad_entries(settings, engine, project, tmp_path):
    folder = tmp_path / "voc"
    _write(folder / "Annotations" / "a.xml", _voc("a.png", [
        ("cell", (1, 1, 10, 10)),  # 1-based inclusive: pixels 0..9 -> x 0-10
        ("nucleus", (5, 5, 5, 8)),  # one pixel wide: kept
        ("cell", (31, 21, 45, 35)),  # partly outside
        ("cell", (60, 60, 70, 70)),  # outside
        ("cell", (8, 8, 7, 12)),  # degenerate (xmax before xmin)
        ("mito", (1, 1, 3, 3)),  # unknown label
    ]))
    # b.jpg: found by its stem
    _write(folder / "Annotations" / "b.xml", _voc("b.jpg", [("nucleus", (2, 2, 4, 4))], size=(50, 40)))
    _write(folder / "Annotations" / "c.xml", _voc("c.png", [], size=(20, 20)))  # no objects: background
    _write(folder / "Annotations" / "zz.xml", _voc("zz.png", [("cell", (1, 1, 3, 3))]))
    _write(folder / "Annotations" / "broken.xml", "<annotation><filename>a.png</filename>")
    _write(folder / "Annotations" / "other.xml", "<svg></svg>")
    _write(folder / "ImageSets" / "Main" / "train.txt", "a\nb\n")  # a VOC image list, not YOLO
    assert detect_format(folder) == "voc"
    outcome = import_boxes(settings, engine, project, folder)
    errors = _errors(outcome)
    assert outcome.boxes == 4 and outcome.images == 2
    assert _boxes(engine, "a.png") == [("cell", _corners(0, 0, 10, 10), "import"),
                                       ("cell", _corners(30, 20, 40, 30), "import"),
                                       ("nucleus", _corners(4, 4, 5, 8), "import")]
    assert _boxes(engine, "b.png") == [("nucleus", _corners(1, 1, 4, 4), "import")]
    assert "voc/Annotations/a.xml object 3 (a.png, 40×30 px)" in outcome.clipped[0]
    assert ("voc/Annotations/a.xml object 4 (a.png, 40×30 px): box 'cell' x 59–70, y 59–70 lies outside"
            in errors)
    assert "voc/Annotations/a.xml object 5 (a.png, 40×30 px): box 'cell' x 7–7, y 7–12 is 0×5 px" in errors
    assert "label 'mito' is not a label of project 'P': its 1 box(es) in voc/Annotations/a.xml (1)" in errors
    assert "voc/Annotations/zz.xml: image 'zz.png' matches no image of project 'P'" in errors
    assert "voc/Annotations/broken.xml: not valid XML" in errors
    assert "voc/Annotations/other.xml: not a Pascal VOC annotation (its root element is <svg>" in errors
    assert any("ImageSets/Main/train.txt" in n and "passed over" in n for n in outcome.notes)
    assert outcome.background == ["c.png"]


# --- YOLO -------------------------------------------------------------------------------------------------
def _yolo_folder(root: Path, labels: str = "labels") -> Path:
    folder = root / labels
    _write(folder / "a.txt", "1 0.25 0.5 0.5 0.2\n"  # cell: x 0-20, y 12-18
                             "0 0.95 0.5 0.2 0.2\n"  # nucleus, partly outside: x 34-42 -> 34-40
                             "1 1.5 1.5 0.2 0.2\n"  # outside
                             "0 0.5 0.5 0.001 0.5\n"  # degenerate: 0.04 px wide
                             "2 0.5 0.5 0.2 0.2\n"  # mito: not a label of the project
                             "5 0.5 0.5 0.2 0.2\n"  # class 5 has no name
                             "0 20 15 10 10\n"  # pixels, not fractions
                             "0 0.5 0.5 0.2\n")  # 4 values
    _write(folder / "b.txt", "")  # b has no objects
    _write(folder / "zz.txt", "0 0.5 0.5 0.2 0.2\n")
    return folder


def test_yolo_with_classes_txt_and_bad_entries(settings, engine, project, tmp_path):
    folder = _yolo_folder(tmp_path)
    _write(folder / "classes.txt", "nucleus\ncell\nmito\n")  # not the project's order
    assert detect_format(folder) == "yolo"
    outcome = import_boxes(settings, engine, project, folder)
    errors = _errors(outcome)
    assert _boxes(engine, "a.png") == [("cell", _corners(0, 12, 20, 18), "import"),
                                       ("nucleus", _corners(34, 12, 40, 18), "import")]
    assert any("YOLO class names from labels/classes.txt: 0 = nucleus, 1 = cell, 2 = mito" in n
               for n in outcome.notes)
    assert "labels/a.txt line 2 (a.png, 40×30 px)" in outcome.clipped[0]
    assert "labels/a.txt line 3 (a.png, 40×30 px): box 'cell' x 56–64, y 42–48 lies outside" in errors
    assert "labels/a.txt line 4 (a.png, 40×30 px)" in errors and "less than 1 px wide or high" in errors
    assert "label 'mito' is not a label of project 'P': its 1 box(es) in labels/a.txt (1)" in errors
    assert "labels/a.txt: class 5 (1 box(es)) has no name in labels/classes.txt" in errors
    assert "labels/a.txt line 7: '0 20 15 10 10' holds values above 1" in errors
    assert "labels/a.txt line 8: '0 0.5 0.5 0.2' is not a YOLO box line" in errors
    assert "labels/zz.txt: image 'zz' matches no image of project 'P'" in errors
    assert outcome.background == ["b.png"]
    assert import_boxes(settings, engine, project, folder).already == 2
    assert len(_boxes(engine, "a.png")) == 2


@pytest.mark.parametrize("yaml_text", [
    "path: ../data\ntrain: images/train\nnames:\n  0: nucleus\n  1: cell\n  2: mito\n",
    "nc: 3\nnames: ['nucleus', 'cell', 'mito']\n",
])
def test_yolo_class_names_from_data_yaml_above_the_labels(settings, engine, project, tmp_path, yaml_text):
    _yolo_folder(tmp_path / "set", "labels/train")
    _write(tmp_path / "set" / "data.yaml", yaml_text)
    outcome = import_boxes(settings, engine, project, tmp_path / "set")
    assert any("YOLO class names from set/data.yaml: 0 = nucleus, 1 = cell, 2 = mito" in n
               for n in outcome.notes)
    assert [b[0] for b in _boxes(engine, "a.png")] == ["cell", "nucleus"]


def test_yolo_without_class_names_uses_the_project_labels_and_says_so(settings, engine, project, tmp_path):
    folder = _yolo_folder(tmp_path)
    outcome = import_boxes(settings, engine, project, folder / "a.txt")  # one file, given on its own
    assert any("class numbers were read as the project's labels in their order: 0 = cell, 1 = nucleus" in n
               for n in outcome.notes)
    assert [b[0] for b in _boxes(engine, "a.png")] == ["cell", "nucleus"]
    assert "a.txt: class 2 (1 box(es)) has no name in the project's labels" in _errors(outcome)


def test_yolo_zip_with_classes_and_a_path_leaving_the_folder(settings, engine, project, tmp_path):
    archive = tmp_path / "boxes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("set/classes.txt", "nucleus\ncell\n")
        zf.writestr("set/a.txt", "1 0.25 0.5 0.5 0.2\n")
        zf.writestr("../evil.txt", "0 0.5 0.5 0.2 0.2\n")
        zf.writestr("set/a.png", b"not unpacked")
    outcome = import_boxes(settings, engine, project, archive)
    assert outcome.boxes == 1 and not outcome.errors
    assert _boxes(engine, "a.png") == [("cell", _corners(0, 12, 20, 18), "import")]
    assert any("from boxes.zip/set/classes.txt" in n for n in outcome.notes)
    assert not (tmp_path / "evil.txt").exists()
    assert not list((settings.data_dir / "tmp").glob("boxes-*"))  # the unpacked copy is gone


# --- formats, files, several paths ------------------------------------------------------------------------
def test_detect_format_by_suffix_and_content(tmp_path):
    assert detect_format(_write(tmp_path / "x.json", "{}")) == "coco"
    assert detect_format(_write(tmp_path / "x.xml", "<a/>")) == "voc"
    assert detect_format(_write(tmp_path / "x.csv", "")) == "csv"
    assert detect_format(_write(tmp_path / "y.txt", "0 0.5 0.5 0.1 0.1\n")) == "yolo"
    assert detect_format(_write(tmp_path / "z.txt", "label,x_min,y_min,x_max,y_max\n")) == "csv"
    several = "several formats: CSV \\(2\\), COCO JSON \\(1\\), Pascal VOC XML \\(1\\), YOLO txt \\(1\\)"
    with pytest.raises(InvalidInputError, match=several):
        detect_format(tmp_path)
    with pytest.raises(InvalidInputError, match="names YOLO classes but holds no boxes"):
        detect_format(_write(tmp_path / "classes.txt", "cell\n"))
    with pytest.raises(InvalidInputError, match="no such file or folder"):
        detect_format(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInputError, match="holds no box files"):
        read_boxes(empty)


def test_the_same_boxes_from_two_formats_are_not_doubled(settings, engine, project, tmp_path):
    csv_path = _write(tmp_path / "a.csv", "label,x_min,y_min,x_max,y_max\ncell,2,3,12,13\n")
    coco = _write(tmp_path / "a.json", json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}],
        "categories": [{"id": 1, "name": "Cell"}],  # the label ignoring case
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 3, 10, 10]}]}))
    assert import_boxes(settings, engine, project, csv_path).boxes == 1
    outcome = import_boxes(settings, engine, project, [coco, tmp_path / "missing.csv"])
    assert outcome.boxes == 0 and outcome.already == 1 and outcome.stored
    assert "missing.csv: no such file or folder" in _errors(outcome)
    assert len(_boxes(engine, "a.png")) == 1


def test_a_name_that_fits_two_images_is_not_guessed(settings, engine, project, tmp_path):
    path = tmp_path / "a.tif"
    PILImage.fromarray(np.full((30, 40), 7, np.uint8)).save(path)
    assert ops.import_files(settings, engine, project, [("a.tif", path)]).ok
    outcome = import_boxes(settings, engine, project,
                           _write(tmp_path / "a.csv", "label,x_min,y_min,x_max,y_max\ncell,1,1,5,5\n"))
    assert not outcome.stored
    assert "a.csv: image 'a' fits 2 images of the project (a.png, a.tif)" in _errors(outcome)
    named = _write(tmp_path / "all.csv", "image,label,x_min,y_min,x_max,y_max\na.tif,cell,1,1,5,5\n")
    assert import_boxes(settings, engine, project, named).boxes == 1  # the full name decides


# --- the real BCCD boxes ----------------------------------------------------------------------------------
BCCD = SHARED_DATA / "bccd_blood_detection"


@pytest.mark.skipif(not BCCD.is_dir(), reason="the shared BCCD data is not here")
def test_bccd_csv_and_coco_boxes_agree(settings, engine):
    proj = ops.create_project(settings, engine, "Blood")
    with session_scope(engine) as s:
        for name in ("RBC", "WBC", "Platelets"):
            repo.add_label(s, proj.id, name)
    files = sorted((BCCD / "images").glob("*.jpg"))[:3]
    assert ops.import_files(settings, engine, proj.id, [(f.name, f) for f in files]).ok
    rows = {f.stem: (BCCD / "boxes" / f"{f.stem}.csv").read_text().strip().splitlines()[1:] for f in files}
    outcome = import_boxes(settings, engine, proj.id, BCCD / "boxes")
    assert outcome.boxes == sum(len(r) for r in rows.values()) and outcome.images == 3
    assert outcome.clipped == []
    unmatched = [e for e in outcome.errors if "box files match no image of project 'Blood'" in e]
    assert len(unmatched) == 1 and len(outcome.errors) == 1  # the other images' files, named in one line
    with session_scope(engine) as s:
        image = next(im for im in repo.list_images(s, proj.id) if im.name == files[0].name)
        labels = {lab.id: lab.name for lab in repo.list_labels(s, proj.id)}
        stored = sorted((labels[sh.label_id], *sh.points[0], *sh.points[2])
                        for sh in repo.list_shapes(s, image.id))
    expected = sorted((lab, float(x0), float(y0), float(x1), float(y1))
                      for lab, x0, y0, x1, y1 in (r.split(",") for r in rows[files[0].stem]))
    assert stored == expected
    coco = import_boxes(settings, engine, proj.id, BCCD / "annotations_coco.json")  # the same boxes
    assert coco.boxes == 0 and coco.already == outcome.boxes
