"""Importing image classes: a CSV of file stem,class rows with bad rows of every kind, files that are no such
table, and a ZIP (or folder) with one folder per class, holding a corrupt image and a non-image."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from core import projects as ops
from core.class_import import import_class_folders, import_classes_csv
from core.db import repo, session_scope
from core.db.models import ANNOTATED, NOT_ANNOTATED
from core.errors import InvalidInputError

NAMES = ("a.png", "b.png", "c.png", "d.png", "x.png", "x.tif")


def _png(seed: int, size: int = 12) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(seed)
    PILImage.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def project(settings, engine, tmp_path):
    """A project with the classes neutrophil and platelet and six tiny images (x.png and x.tif share a
    stem)."""
    proj = ops.create_project(settings, engine, "Blood")
    with session_scope(engine) as s:
        repo.add_label(s, proj.id, "neutrophil")
        repo.add_label(s, proj.id, "platelet")
    folder = tmp_path / "images"
    folder.mkdir()
    pairs = []
    for seed, name in enumerate(NAMES):
        if name.endswith(".tif"):
            PILImage.open(io.BytesIO(_png(seed))).save(folder / name)
        else:
            (folder / name).write_bytes(_png(seed))
        pairs.append((name, folder / name))
    report = ops.import_files(settings, engine, proj.id, pairs)
    assert report.ok, report.errors
    return proj.id


def _classes(engine, project_id: int) -> dict[str, str]:
    """image name -> class name."""
    with session_scope(engine) as s:
        names = {lab.id: lab.name for lab in repo.list_labels(s, project_id)}
        images = {im.id: im.name for im in repo.list_images(s, project_id)}
        return {images[i]: names[c] for i, c in repo.image_classes(s, project_id).items()}


def _text(report) -> str:
    return "\n".join(text for _, text in report.messages())


BAD_ROWS = """file,class
a,neutrophil
b.png,Platelet
c,eosinophil
nope,neutrophil
d,neutrophil
d,platelet
a,neutrophil
,neutrophil
e
x,neutrophil
"""


def test_csv_keeps_the_good_rows_and_names_every_bad_one(settings, engine, project):
    report = import_classes_csv(settings, engine, project, BAD_ROWS.encode(), shown="classes.csv")
    assert _classes(engine, project) == {"a.png": "neutrophil", "b.png": "platelet"}
    assert report.classified == 2 and report.already == 0 and report.stored
    text = _text(report)
    assert "the first line (file, class) was read as the header" in text
    assert "Class 'eosinophil' is not a label of project 'Blood'" in text and "c (line 4)" in text
    assert "`segstudio labels add Blood eosinophil`" in text
    assert "1 row(s) name no image of project 'Blood'" in text and "nope (line 5)" in text
    assert "d.png is listed with different classes (neutrophil on line(s) 6; platelet on line(s) 7)" in text
    assert "a.png (lines 2, 8)" in text  # listed twice with the same class: counted once
    assert "classes.csv line 9: the file name is empty" in text
    assert "classes.csv line 10 ('e') has no class column" in text
    assert "'x' (line 11) fits 2 images of the project (x.png, x.tif)" in text
    assert report.messages()[0] == ("success", "Set the class of 2 image(s): neutrophil 1, platelet 1.")
    with session_scope(engine) as s:
        assert repo.status_counts(s, project)[ANNOTATED] == 2

    again = import_classes_csv(settings, engine, project, BAD_ROWS.encode(), shown="classes.csv")
    assert again.classified == 0 and again.already == 2  # idempotent
    assert again.messages()[0] == ("info", "All 2 image(s) have their class already; nothing was changed.")
    assert _classes(engine, project) == {"a.png": "neutrophil", "b.png": "platelet"}


def test_another_class_is_kept_unless_replaced_and_new_classes_added_on_request(settings, engine, project,
                                                                                 tmp_path):
    import_classes_csv(settings, engine, project, b"a,neutrophil\nb,platelet\n")
    path = tmp_path / "fix.csv"
    path.write_text("a,platelet\nb,platelet\nc,eosinophil\n")
    kept = import_classes_csv(settings, engine, project, path)
    assert kept.classified == 0 and kept.already == 1
    assert "a.png (neutrophil, the import says platelet)" in _text(kept)
    assert "--replace-annotations" in _text(kept)
    assert _classes(engine, project)["a.png"] == "neutrophil"
    done = import_classes_csv(settings, engine, project, path, replace=True, add_classes=True)
    assert _classes(engine, project) == {"a.png": "platelet", "b.png": "platelet", "c.png": "eosinophil"}
    assert done.new_labels == ["eosinophil"] and "Replaced the class of 1 image(s)" in _text(done)
    assert ("info", "Added 1 new class(es) as labels of the project: eosinophil.") in done.messages()


def test_csv_without_header_with_semicolons_and_columns_picked_by_name(settings, engine, project):
    report = import_classes_csv(settings, engine, project, b"a.PNG;neutrophil\r\nb;platelet\r\n")
    assert _classes(engine, project) == {"a.png": "neutrophil", "b.png": "platelet"}
    assert not any("header" in m for m in report.notes) and "read with semicolons" in _text(report)
    table = b"\xef\xbb\xbfpath\tlabel\tstem\nimages/x.png\tplatelet\tx\nz\tneutrophil\tc\n"
    report = import_classes_csv(settings, engine, project, table, shown="index.tsv", replace=True)
    assert _classes(engine, project)["c.png"] == "neutrophil"  # by the named column "stem", not the first
    assert "the columns 'stem' and 'label' were read as file and class" in _text(report)
    assert report.errors == ["'x' (line 2) fits 2 images of the project (x.png, x.tif); skipped. Write the "
                             "image's file name with its extension, or rename one of the images."]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "classes.csv is empty"),
    (b"  \n\n", "classes.csv is empty"),
    (b"file,class\n", "has only its header line"),
    (_png(1), "not a CSV text file but a PNG image"),
    (b"PK\x03\x04rest", "not a CSV text file but a ZIP (or an Excel .xlsx workbook"),
    (b"a,b\x00\x01", "holds binary data"),
    ("a,neutrophil\nb,caf\u00e9\n".encode("latin-1"), "not UTF-8 text (byte 18)"),
    (b"just one column\nanother\n", "no line has two columns separated by commas"),
])
def test_files_that_are_no_class_table_say_what_was_wrong(settings, engine, project, data, message):
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        import_classes_csv(settings, engine, project, data, shown="classes.csv")
    assert _classes(engine, project) == {}


def test_a_missing_or_folder_path_says_so(settings, engine, project, tmp_path):
    with pytest.raises(InvalidInputError, match=r"missing\.csv: could not be read"):
        import_classes_csv(settings, engine, project, tmp_path / "missing.csv")
    with pytest.raises(InvalidInputError, match="is a folder, not a file"):
        import_classes_csv(settings, engine, project, tmp_path)


def _class_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("cells/neutrophil/n1.png", _png(10))
        zf.writestr("cells/neutrophil/n2.png", _png(11))
        zf.writestr("cells/neutrophil/n2-copy.png", _png(11))  # the same image twice in its class
        zf.writestr("cells/Platelet/p1.png", _png(12))
        zf.writestr("cells/basophil/b1.png", _png(13))  # a new class
        zf.writestr("cells/basophil/broken.png", b"\x89PNG\r\n\x1a\nnot really")
        zf.writestr("cells/eosinophil/both.png", _png(14))  # the same image in two classes
        zf.writestr("cells/neutrophil/both-again.png", _png(14))
        zf.writestr("cells/notes.txt", "counted by hand")
        zf.writestr("cells/.DS_Store", b"\x00\x00")
        zf.writestr("__MACOSX/cells/._n1.png", b"\x00")
        zf.writestr("loose.png", _png(15))
        zf.writestr("cells/neutrophil/a.png", _png(0))  # the project's a.png: given its class
    return path


def test_a_zip_of_class_folders(settings, engine, project, tmp_path):
    zip_path = _class_zip(tmp_path / "cells.zip")
    report = import_class_folders(settings, engine, project, zip_path)
    classes = _classes(engine, project)
    assert classes == {"a.png": "neutrophil", "n1.png": "neutrophil", "n2.png": "neutrophil",
                       "p1.png": "platelet", "b1.png": "basophil"}
    assert report.imported == 4 and report.classified == 5 and report.new_labels == ["basophil"]
    text = _text(report)
    assert "Added 1 new class(es) as labels of the project: basophil." in text
    assert "broken.png" in text and "left out: cells/notes.txt." in text
    assert "not in a class folder, so they were not imported: loose.png" in text
    assert ("cells/eosinophil/both.png and cells/neutrophil/both-again.png are the same image in 2 class "
            "folders (eosinophil, neutrophil)") in text
    assert "cells/neutrophil/n2-copy.png = cells/neutrophil/n2.png" in text or \
           "cells/neutrophil/n2.png = cells/neutrophil/n2-copy.png" in text
    assert "cells/neutrophil/a.png (as a.png)" in text  # in the project already
    assert ".DS_Store" not in text and "__MACOSX" not in text
    with session_scope(engine) as s:
        names = [lab.name for lab in repo.list_labels(s, project)]
        assert names == ["neutrophil", "platelet", "basophil"]  # no eosinophil: none of its images imported
        assert repo.status_counts(s, project)[ANNOTATED] == 5
        assert not list((settings.data_dir / "tmp").glob("classes-*"))  # the unpacked copy is gone

    again = import_class_folders(settings, engine, project, zip_path)
    assert again.imported == 0 and again.classified == 0 and again.already == 5 and not again.new_labels
    assert _classes(engine, project) == classes


def test_a_folder_of_class_folders_and_what_is_not_one(settings, engine, project, tmp_path):
    root = tmp_path / "upload"
    for name, data in (("platelet/p.png", _png(20)), ("new class/q.png", _png(21)), ("r.png", _png(22))):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    report = import_class_folders(settings, engine, project, root)
    assert _classes(engine, project) == {"p.png": "platelet", "q.png": "new class"}
    assert "r.png" in _text(report)
    with pytest.raises(InvalidInputError, match="not a ZIP; give a ZIP or a folder with one folder per"):
        import_class_folders(settings, engine, project, tmp_path / "images" / "a.png")
    with pytest.raises(InvalidInputError, match="no such file or folder"):
        import_class_folders(settings, engine, project, tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no images" in _text(import_class_folders(settings, engine, project, empty))


def test_a_class_cleared_after_import_is_set_again_and_status_follows(settings, engine, project):
    import_classes_csv(settings, engine, project, b"a,neutrophil\n")
    with session_scope(engine) as s:
        image = next(im for im in repo.list_images(s, project) if im.name == "a.png")
        assert repo.set_image_class(s, image.id, None).status == NOT_ANNOTATED
    assert import_classes_csv(settings, engine, project, b"a,neutrophil\n").classified == 1
