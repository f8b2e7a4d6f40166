from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from streamlit.testing.v1 import AppTest

from core import projects as ops
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import BACKGROUND

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _project_with_image(settings, tmp_path):
    engine = make_engine(settings.database_url)
    project = ops.create_project(settings, engine, "P")
    with session_scope(engine) as s:
        label = repo.add_label(s, project.id, "nucleus", "#00ff00")
    path = tmp_path / "img.tif"
    tifffile.imwrite(path, np.random.default_rng(0).integers(0, 4000, (2, 120, 160), dtype=np.uint16),
                     metadata={"axes": "CYX"})
    report = ops.import_files(settings, engine, project.id, [("img.tif", path)])
    assert report.ok, report.errors
    return engine, project, label, report.imported[0]


def _open(project_id: int, image_id: int | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project_id
    if image_id is not None:
        at.query_params["image"] = str(image_id)
    at.switch_page("pages/annotate.py")
    return at.run()


def test_annotate_page_lists_shapes_and_changes_status(app_env, tmp_path):
    engine, project, label, image = _project_with_image(app_env, tmp_path)
    at = _open(project.id)
    assert not at.exception, at.exception
    assert any("No shapes in this view yet" in c.value for c in at.caption)
    # mark it background-only
    status = next(r for r in at.radio if r.label == "This image is")
    status.set_value(BACKGROUND).run()
    assert not at.exception
    with session_scope(engine) as s:
        assert repo.get_image(s, image.id).status == BACKGROUND

    # shapes saved elsewhere (e.g. imported) are listed with their label
    with session_scope(engine) as s:
        repo.set_image_status(s, image.id, "not_annotated")
        repo.add_shapes(s, image.id, [
            {"label_id": label.id, "kind": "annotation", "geometry": "polygon",
             "points": [[10, 10], [40, 10], [40, 40], [10, 40]]},
            {"label_id": None, "kind": "roi", "geometry": "rectangle",
             "points": [[0, 0], [80, 0], [80, 60], [0, 60]]},
        ])
    at = _open(project.id, image.id)
    assert not at.exception, at.exception
    listed = " ".join(m.value for m in at.markdown)
    assert "**nucleus** — polygon, 4 points" in listed and "**ROI** — rectangle" in listed
    assert any("Annotated — 1 object" in m.value for m in at.markdown)

    # one editor for the shape picked in the list (one row of widgets per shape made the page slow to draw)
    picker = at.selectbox(key=f"shape_pick_{image.id}")
    assert picker.options == ["1. nucleus", "2. ROI"] and picker.value == 1
    delete_buttons = [b for b in at.button if b.key and b.key.startswith("delete_shape_")]
    assert len(delete_buttons) == 1
    picker.set_value(2).run()  # the ROI: no label to change, Delete only
    assert not [sb for sb in at.selectbox if sb.key and sb.key.startswith("relabel_")]
    at.selectbox(key=f"shape_pick_{image.id}").set_value(1).run()
    assert [sb.value for sb in at.selectbox if sb.key and sb.key.startswith("relabel_")] == [label.id]

    # delete the polygon in the working copy, then save
    delete_buttons = [b for b in at.button if b.key and b.key.startswith("delete_shape_")]
    delete_buttons[0].click().run()  # the picked one: the polygon
    assert not at.exception
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    with session_scope(engine) as s:
        assert [sh.kind for sh in repo.list_shapes(s, image.id)] == ["roi"]
        assert repo.get_image(s, image.id).status == "not_annotated"


def test_annotate_page_without_labels_says_what_to_do(app_env, tmp_path):
    engine = make_engine(app_env.database_url)
    project = ops.create_project(app_env, engine, "Empty")
    at = _open(project.id)
    assert not at.exception
    assert any("no images yet" in i.value for i in at.info)
