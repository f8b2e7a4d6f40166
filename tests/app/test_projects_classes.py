"""The Projects page with classes: a class selector per image in the gallery, the gallery filtered and
counted by class, and the "Import classes" control (a CSV, a ZIP of class folders)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image as PILImage
from streamlit.testing.v1 import AppTest

from core import projects as ops
from core.db import repo, session_scope
from core.db.engine import make_engine

APP = str(Path(__file__).resolve().parents[2] / "app.py")


class FakeUpload(io.BytesIO):
    """What st.file_uploader hands the page: a binary stream with a name."""

    def __init__(self, name: str, data: bytes) -> None:
        super().__init__(data)
        self.name = name


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(np.random.default_rng(seed).integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(
        buffer, format="PNG")
    return buffer.getvalue()


def _project(settings, tmp_path):
    engine = make_engine(settings.database_url)
    project = ops.create_project(settings, engine, "Blood")
    with session_scope(engine) as s:
        labels = [repo.add_label(s, project.id, name) for name in ("neutrophil", "platelet")]
    pairs = []
    for i in range(3):
        path = tmp_path / f"cell{i}.png"
        path.write_bytes(_png(i))
        pairs.append((path.name, path))
    report = ops.import_files(settings, engine, project.id, pairs)
    assert report.ok, report.errors
    return engine, project, labels, [im.id for im in report.imported]


def _open() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/projects.py")
    return at.run()


def _names_shown(at: AppTest) -> set[str]:
    names = ("cell0.png", "cell1.png", "cell2.png")
    return {name for m in at.markdown for name in names if f"**{name}**" in m.value}


def test_set_classes_in_the_gallery_and_filter_by_class(app_env, tmp_path):
    engine, project, (neutrophil, platelet), (i0, i1, _) = _project(app_env, tmp_path)
    at = _open()
    assert not at.exception, at.exception
    assert not [sb for sb in at.selectbox if sb.key == f"image_class_{i0}"]  # no classes yet: not shown
    at.toggle(key=f"gallery_classes_{project.id}").set_value(True).run()
    assert not at.exception, at.exception
    at.selectbox(key=f"image_class_{i0}").set_value(neutrophil.id).run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert repo.image_classes(s, project.id) == {i0: neutrophil.id}
        assert repo.get_image(s, i0).status == "annotated"

    show = at.selectbox(key=f"gallery_class_filter_{project.id}")
    labels = list(show.options)
    assert labels == ["All images (3)", "No class (2)", "neutrophil (1)", "platelet (0)"]
    assert _names_shown(at) == {"cell0.png", "cell1.png", "cell2.png"}
    show.set_value(neutrophil.id).run()
    assert _names_shown(at) == {"cell0.png"}
    at.selectbox(key=f"gallery_class_filter_{project.id}").set_value("none").run()
    assert _names_shown(at) == {"cell1.png", "cell2.png"}
    at.selectbox(key=f"gallery_class_filter_{project.id}").set_value(platelet.id).run()
    assert any("No image is shown by this filter" in i.value for i in at.info)

    # a class set elsewhere (the Annotate page, another tab) is shown, never overwritten by this page
    with session_scope(engine) as s:
        repo.set_image_class(s, i0, platelet.id)
    at.selectbox(key=f"gallery_class_filter_{project.id}").set_value("all").run()
    assert at.selectbox(key=f"image_class_{i0}").value == platelet.id
    at.selectbox(key=f"image_class_{i1}").set_value(platelet.id).run()
    with session_scope(engine) as s:
        assert repo.image_classes(s, project.id) == {i0: platelet.id, i1: platelet.id}
    at.selectbox(key=f"image_class_{i0}").set_value(None).run()  # "no class" clears it
    with session_scope(engine) as s:
        assert repo.image_classes(s, project.id) == {i1: platelet.id}
        assert repo.get_image(s, i0).status == "not_annotated"


def test_import_a_class_table_and_class_folders_on_the_page(app_env, tmp_path, monkeypatch):
    engine, project, (neutrophil, platelet), (i0, *_) = _project(app_env, tmp_path)
    table = FakeUpload("classes.csv", b"stem,class\ncell0,neutrophil\ncell1,eosinophil\nnope,platelet\n")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("set/platelet/new.png", _png(7))
        zf.writestr("set/platelet/cell2.png", _png(2))  # the project's cell2.png
        zf.writestr("set/readme.txt", "hello")
    given = {"class_csv_": table, "class_zip_": FakeUpload("set.zip", archive.getvalue())}
    original = st.file_uploader

    def uploader(*args, **kwargs):
        key = str(kwargs.get("key", ""))
        return next((v for prefix, v in given.items() if key.startswith(prefix)), None) \
            if key.startswith("class_") else original(*args, **kwargs)

    monkeypatch.setattr(st, "file_uploader", uploader)
    at = _open()
    assert not at.exception, at.exception
    at.button(key="class_csv_import").click().run()
    assert not at.exception, at.exception
    assert any("Set the class of 1 image(s): neutrophil 1." in s.value for s in at.success)
    errors = " ".join(e.value for e in at.error)
    assert "Class 'eosinophil' is not a label" in errors and "cell1 (line 3)" in errors
    assert "nope (line 4)" in errors
    with session_scope(engine) as s:
        assert repo.image_classes(s, project.id) == {i0: neutrophil.id}

    given.pop("class_csv_")
    at.run()
    at.button(key="class_dir_import").click().run()
    assert not at.exception, at.exception
    assert any("Imported 1 image(s). Set the class of 2 image(s): platelet 2." in s.value for s in at.success)
    assert any("set/readme.txt" in w.value for w in at.warning)
    with session_scope(engine) as s:
        by_name = {im.name: im.class_id for im in repo.list_images(s, project.id)}
    assert by_name == {"cell0.png": neutrophil.id, "cell1.png": None, "cell2.png": platelet.id,
                       "new.png": platelet.id}
    show = at.selectbox(key=f"gallery_class_filter_{project.id}")  # classes now: the gallery shows them
    assert list(show.options)[2:] == ["neutrophil (1)", "platelet (2)"]


def test_deleting_a_class_label_says_how_many_images_lose_it(app_env, tmp_path):
    engine, project, (neutrophil, _), (i0, i1, _) = _project(app_env, tmp_path)
    with session_scope(engine) as s:
        repo.set_image_classes(s, project.id, {i0: neutrophil.id, i1: neutrophil.id})
    at = _open()
    at.button(key=f"label_delete_{neutrophil.id}").click().run()
    assert any("It has no annotations. 2 image(s) of this class will have no class." in w.value
               for w in at.warning)
    at.button(key=f"label_delete_yes_{neutrophil.id}").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert repo.image_classes(s, project.id) == {}
        assert repo.status_counts(s, project.id)["not_annotated"] == 3
