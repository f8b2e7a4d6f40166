"""The Annotate page's "Import boxes": uploaded box files (a ZIP among them) become rectangles, and what
worked and what did not are shown together."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import tifffile
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


def _project(settings, tmp_path):
    engine = make_engine(settings.database_url)
    project = ops.create_project(settings, engine, "P")
    with session_scope(engine) as s:
        repo.add_label(s, project.id, "nucleus", "#00ff00")
    rng = np.random.default_rng(0)
    pairs = []
    for name in ("img.tif", "other.tif"):
        tifffile.imwrite(tmp_path / name, rng.integers(0, 4000, (120, 160), dtype=np.uint16))
        pairs.append((name, tmp_path / name))
    report = ops.import_files(settings, engine, project.id, pairs)
    assert report.ok, report.errors
    return engine, project, {im.name: im for im in report.imported}


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return buf.getvalue()


def _uploading(monkeypatch: pytest.MonkeyPatch, uploads: list[FakeUpload]) -> None:
    # st.file_uploader cannot be driven by AppTest yet: hand the page the files the way the widget would.
    original = st.file_uploader
    monkeypatch.setattr(st, "file_uploader",
                        lambda *a, **k: uploads if k.get("accept_multiple_files") else original(*a, **k))


def _open(project_id: int) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project_id
    at.switch_page("pages/annotate.py")
    return at.run()


def _rectangles(engine, image_id: int) -> list[list[list[float]]]:
    with session_scope(engine) as s:
        return [sh.points for sh in repo.list_shapes(s, image_id) if sh.geometry == "rectangle"]


def test_import_boxes_from_uploads_shows_successes_and_errors(app_env, tmp_path, monkeypatch):
    engine, project, images = _project(app_env, tmp_path)
    uploads = [
        FakeUpload("img.csv", b"label,x_min,y_min,x_max,y_max\nnucleus,10,20,50,60\nmito,1,1,5,5\n"),
        FakeUpload("yolo.zip", _zip({"set/classes.txt": "nucleus\n",
                                     "set/other.txt": "0 0.5 0.5 0.25 0.5\n"})),
        FakeUpload("broken.json", b"{not json"),
    ]
    _uploading(monkeypatch, uploads)
    at = _open(project.id)
    assert not at.exception, at.exception
    assert any(e.label == "Import boxes (COCO, Pascal VOC, YOLO, CSV)" for e in at.expander)
    next(b for b in at.button if b.label == "Import boxes from 3 file(s)").click().run()
    assert not at.exception, at.exception
    assert any("Imported 2 box(es) into 2 image(s): nucleus 2." in s.value for s in at.success)
    errors = " ".join(e.value for e in at.error)
    assert "label 'mito' is not a label of project 'P'" in errors and "img.csv (1)" in errors
    assert "broken.json: not valid JSON" in errors
    assert any("YOLO class names from yolo.zip/set/classes.txt: 0 = nucleus" in i.value for i in at.info)
    assert _rectangles(engine, images["img.tif"].id) == [[[10, 20], [50, 20], [50, 60], [10, 60]]]
    assert _rectangles(engine, images["other.tif"].id) == [[[60, 30], [100, 30], [100, 90], [60, 90]]]
    # the open image shows its new box (its working copy was reopened from the database)
    assert any("**nucleus** — rectangle, 4 points" in m.value for m in at.markdown)

    next(b for b in at.button if b.label == "Import boxes from 3 file(s)").click().run()  # again
    assert not at.exception, at.exception
    assert any("All 2 box(es) are in the project already" in i.value for i in at.info)
    assert len(_rectangles(engine, images["img.tif"].id)) == 1


def test_import_boxes_waits_for_unsaved_changes(app_env, tmp_path, monkeypatch):
    engine, project, images = _project(app_env, tmp_path)
    with session_scope(engine) as s:
        repo.save_draft(s, images["other.tif"].id, [], base_version=images["other.tif"].updated_at)
    _uploading(monkeypatch, [FakeUpload("img.csv", b"label,x_min,y_min,x_max,y_max\nnucleus,1,1,5,5\n")])
    at = _open(project.id)
    assert not at.exception, at.exception
    button = next(b for b in at.button if b.label == "Import boxes from 1 file(s)")
    assert button.disabled and "other.tif" in button.help
