"""The Annotate page's Classes mode: one button per class (keys 1-9) saves the class and opens the next image;
next, previous and "no class"; the counts; a project with classes opens in it; ROIs carrying a class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from streamlit.testing.v1 import AppTest

from core import projects as ops
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import ANNOTATED, NOT_ANNOTATED

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _project(settings, tmp_path, n_images: int = 3):
    engine = make_engine(settings.database_url)
    project = ops.create_project(settings, engine, "Blood")
    with session_scope(engine) as s:
        labels = [repo.add_label(s, project.id, name) for name in ("neutrophil", "platelet")]
    rng = np.random.default_rng(0)
    pairs = []
    for i in range(n_images):
        path = tmp_path / f"cell{i}.png"
        PILImage.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(path)
        pairs.append((path.name, path))
    report = ops.import_files(settings, engine, project.id, pairs)
    assert report.ok, report.errors
    return engine, project, labels, [im.id for im in report.imported]


def _open(project_id: int, image_id: int | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project_id
    if image_id is not None:
        at.query_params["image"] = str(image_id)
    at.switch_page("pages/annotate.py")
    return at.run()


def _classes(engine, project_id: int) -> dict[int, int]:
    with session_scope(engine) as s:
        return repo.image_classes(s, project_id)


def _said(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_label_images_with_the_class_buttons(app_env, tmp_path):
    engine, project, (neutrophil, platelet), (i0, i1, i2) = _project(app_env, tmp_path)
    at = _open(project.id)
    assert not at.exception, at.exception
    assert at.radio(key="annotate_mode").value == "Draw"  # no image has a class yet
    at.radio(key="annotate_mode").set_value("Classes").run()
    assert not at.exception, at.exception
    assert "**No class yet** (image 1 of 3)" in _said(at)
    first = at.button(key=f"class_pick_{neutrophil.id}")
    assert first.label == "1 · neutrophil" and first.proto.shortcut == "1"
    assert at.button(key=f"class_pick_{platelet.id}").proto.shortcut == "2"
    assert at.button(key="class_next").proto.shortcut.upper() == "N"
    assert any("0 of 3 images have a class" in c.value for c in at.caption)

    first.click().run()  # saved at once, and on to the next image
    assert not at.exception, at.exception
    assert _classes(engine, project.id) == {i0: neutrophil.id}
    assert at.query_params["image"] == str(i1) and "(image 2 of 3)" in _said(at)
    at.button(key=f"class_pick_{platelet.id}").click().run()
    assert _classes(engine, project.id) == {i0: neutrophil.id, i1: platelet.id}
    assert any("neutrophil 1 · platelet 1 — 2 of 3 images have a class" in c.value for c in at.caption)
    at.button(key=f"class_pick_{platelet.id}").click().run()  # the last image: saved, and said so
    assert _classes(engine, project.id)[i2] == platelet.id
    assert any("that was the last image" in s.value for s in at.success)
    assert "**Class: platelet** (image 3 of 3)" in _said(at)
    with session_scope(engine) as s:
        assert repo.status_counts(s, project.id)[ANNOTATED] == 3

    at.button(key="class_previous").click().run()
    assert "**Class: platelet** (image 2 of 3)" in _said(at)
    at.button(key="class_clear").click().run()  # "no class" clears it and stays
    assert not at.exception, at.exception
    assert i1 not in _classes(engine, project.id) and "**No class yet** (image 2 of 3)" in _said(at)
    with session_scope(engine) as s:
        assert repo.get_image(s, i1).status == NOT_ANNOTATED
    at.button(key="class_next").click().run()
    at.button(key="class_next").click().run()  # past the last: stays, and says so
    assert "(image 3 of 3)" in _said(at) and any("That was the last image" in i.value for i in at.info)


def test_a_project_with_classes_opens_in_classes_mode_and_can_skip_to_unlabelled(app_env, tmp_path):
    engine, project, (neutrophil, platelet), (i0, i1, i2, i3) = _project(app_env, tmp_path, 4)
    with session_scope(engine) as s:
        repo.set_image_class(s, i1, platelet.id)
    at = _open(project.id, i0)
    assert not at.exception, at.exception
    assert at.radio(key="annotate_mode").value == "Classes"
    image_box = next(sb for sb in at.selectbox if sb.label == "Image")
    assert "platelet" in image_box.format_func(i1)  # the picker shows each image's class
    at.toggle(key=f"class_skip_{project.id}").set_value(True).run()
    at.button(key=f"class_pick_{neutrophil.id}").click().run()
    assert at.query_params["image"] == str(i2)  # i1 has a class: skipped
    at.button(key=f"class_pick_{neutrophil.id}").click().run()
    at.button(key=f"class_pick_{neutrophil.id}").click().run()  # the last one left
    assert _classes(engine, project.id) == {i0: neutrophil.id, i1: platelet.id, i2: neutrophil.id,
                                            i3: neutrophil.id}
    assert any("Every image has a class now" in s.value for s in at.success)


def test_rois_carry_a_class_in_draw_mode(app_env, tmp_path):
    engine, project, (neutrophil, platelet), (i0, *_) = _project(app_env, tmp_path, 1)
    with session_scope(engine) as s:
        repo.add_shapes(s, i0, [{"label_id": None, "kind": "roi", "geometry": "rectangle",
                                 "points": [[2, 2], [20, 2], [20, 20], [2, 20]]}])
        repo.set_image_class(s, i0, neutrophil.id)
    at = _open(project.id, i0)
    at.radio(key="annotate_mode").set_value("Draw").run()
    assert not at.exception, at.exception
    assert at.selectbox(key=f"roi_class_{project.id}").value is None  # new ROIs: no class unless chosen
    assert "Class: **neutrophil**" in _said(at)
    roi_box = next(sb for sb in at.selectbox if sb.key and sb.key.startswith(f"roi_class_{i0}_"))
    roi_box.set_value(platelet.id).run()
    assert not at.exception, at.exception
    assert "**ROI of class platelet** — rectangle" in _said(at)
    at.button(key="annotate_save").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert [sh.label_id for sh in repo.list_shapes(s, i0, kind="roi")] == [platelet.id]
        assert repo.class_counts(s, project.id) == {neutrophil.id: 1, platelet.id: 1}
