from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import tifffile
from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_projects_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/projects.py")
    return at.run()


class FakeUpload(io.BytesIO):
    """What st.file_uploader hands the page: a binary stream with a name."""

    def __init__(self, name: str, data: bytes) -> None:
        super().__init__(data)
        self.name = name


def _tiff_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.random.default_rng(seed).integers(0, 255, (32, 48), dtype=np.uint8))
    return buf.getvalue()


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_create_project_add_labels_and_see_images(app_env, monkeypatch):
    at = open_projects_page()
    assert not at.exception
    assert any("no projects yet" in i.value for i in at.info)

    name_box = next(t for t in at.text_input if t.label == "Project name")
    name_box.input("Nuclei")
    next(b for b in at.button if b.label == "Create project").click().run()
    assert not at.exception
    assert any("Created project 'Nuclei'" in s.value for s in at.success)

    label_box = next(t for t in at.text_input if t.label == "New label")
    label_box.input("nucleus")
    next(b for b in at.button if b.label == "Add label").click().run()
    assert not at.exception
    label_box = next(t for t in at.text_input if t.label == "New label")
    label_box.input("nucleus")
    next(b for b in at.button if b.label == "Add label").click().run()
    assert any("unique per project" in e.value for e in at.error)

    engine = make_engine(app_env.database_url)
    with session_scope(engine) as s:
        project = repo.find_project(s, "Nuclei")
        assert [lab.name for lab in repo.list_labels(s, project.id)] == ["nucleus"]

    # Upload two images (and a broken one) through the page's import path.
    from core import projects as ops

    for name, data in [("a.tif", _tiff_bytes(1)), ("b.tif", _tiff_bytes(2)), ("bad.tif", b"garbage")]:
        staged = ops.stage_upload(app_env, name, FakeUpload(name, data))
        ops.import_files(app_env, engine, project.id, [(name, staged)])
        ops.discard_staged(staged)
    at.run()
    assert not at.exception
    captions = " ".join(m.value for m in at.markdown)
    assert "a.tif" in captions and "b.tif" in captions and "48×32" in captions and "uint8" in captions
    assert "bad.tif" not in captions


def test_bad_upload_shows_its_error(app_env, monkeypatch):
    engine = make_engine(app_env.database_url)
    from core import projects as ops

    ops.create_project(app_env, engine, "P")
    at = open_projects_page()
    uploads = [FakeUpload("broken.tif", b"II*\x00garbage"), FakeUpload("good.tif", _tiff_bytes(3))]
    # st.file_uploader cannot be driven by AppTest yet: hand the page the files the way the widget would.
    import streamlit as st

    original = st.file_uploader
    monkeypatch.setattr(st, "file_uploader", lambda *a, **k: uploads if k.get("accept_multiple_files") else original(*a, **k))
    at.run()
    _button(at, "Import 2 file(s)").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "broken.tif" in errors
    assert any("Imported 1 image" in s.value for s in at.success)
    with session_scope(engine) as s:
        assert [im.name for im in repo.list_images(s, 1)] == ["good.tif"]
