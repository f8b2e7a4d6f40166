"""The annotate page keeps its place (the open image, in the URL too) and its unsaved work (drafts in the
database, restored on a reload or in another tab, stale ones offered as a choice)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from streamlit.testing.v1 import AppTest

from core import projects as ops
from core.db import repo, session_scope
from core.db.engine import make_engine

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SQUARE = [[10, 10], [40, 10], [40, 40], [10, 40]]


def _project(settings, tmp_path, n: int = 2):
    """Project "P" with a label and ``n`` images; each image has one saved polygon and one ROI."""
    engine = make_engine(settings.database_url)
    project = ops.create_project(settings, engine, "P")
    with session_scope(engine) as s:
        label = repo.add_label(s, project.id, "nucleus", "#00ff00")
    files = []
    for k in range(n):
        path = tmp_path / f"img{k}.tif"
        tifffile.imwrite(path, np.random.default_rng(k).integers(0, 255, (96, 128), dtype=np.uint8))
        files.append((f"img{k}.tif", path))
    report = ops.import_files(settings, engine, project.id, files)
    assert report.ok, report.errors
    with session_scope(engine) as s:
        for image in report.imported:
            repo.add_shapes(s, image.id, [
                {"label_id": label.id, "kind": "annotation", "geometry": "polygon", "points": SQUARE},
                {"label_id": None, "kind": "roi", "geometry": "rectangle",
                 "points": [[0, 0], [80, 0], [80, 60], [0, 60]]},
            ])
    return engine, project, label, report.imported


def _open(project_id: int, image_id: int | None = None) -> AppTest:
    """A new browser tab (a new session) on the annotate page, with ``?image=`` when given."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project_id
    if image_id is not None:
        at.query_params["image"] = str(image_id)
    at.switch_page("pages/annotate.py")
    return at.run()


def _picker(at: AppTest):
    return next(s for s in at.selectbox if s.label == "Image")


def _delete_first_shape(at: AppTest) -> None:
    next(b for b in at.button if b.key and b.key.startswith("delete_shape_")).click().run()
    assert not at.exception, at.exception


def _infos(at: AppTest) -> str:
    return " ".join(i.value for i in at.info)


def test_the_open_image_is_in_the_url_and_stays_after_a_save(app_env, tmp_path):
    engine, project, _, (first, second) = _project(app_env, tmp_path)
    at = _open(project.id)
    assert not at.exception, at.exception
    assert _picker(at).value == first.id and at.query_params["image"] == str(first.id)
    _picker(at).set_value(second.id).run()
    assert at.query_params["image"] == str(second.id)  # a reload or a bookmark reopens it

    _delete_first_shape(at)  # the picker now marks image 2 "unsaved changes"
    at.button(key="annotate_save").click().run()
    assert not at.exception, at.exception
    assert _picker(at).value == second.id and at.query_params["image"] == str(second.id)
    assert not at.warning  # no "unsaved changes on ..." after the save
    at.run()  # any later rerun stays there too
    assert _picker(at).value == second.id
    with session_scope(engine) as s:
        assert len(repo.list_shapes(s, second.id)) == 1 and len(repo.list_shapes(s, first.id)) == 2

    reopened = _open(project.id, second.id)  # the URL opens the image
    assert _picker(reopened).value == second.id


def test_unsaved_changes_survive_a_reload_and_discard_clears_them(app_env, tmp_path):
    engine, project, _, (first, _second) = _project(app_env, tmp_path)
    at = _open(project.id, first.id)
    _delete_first_shape(at)
    with session_scope(engine) as s:
        draft = repo.get_draft(s, first.id)
        assert draft is not None and len(draft.shapes) == 1  # written at once, before any save
        assert len(repo.list_shapes(s, first.id)) == 2

    tab = _open(project.id, first.id)  # a reload: a new session
    assert not tab.exception, tab.exception
    assert "Restored 1 unsaved deletion(s) from" in _infos(tab)
    assert "Save to keep them or Discard" in _infos(tab)
    assert not tab.button(key="annotate_save").disabled
    assert sum(1 for m in tab.markdown if "— polygon" in m.value or "— rectangle" in m.value) == 1

    tab.button(key="annotate_discard").click().run()
    assert not tab.exception, tab.exception
    assert "Restored" not in _infos(tab)
    with session_scope(engine) as s:
        assert repo.get_draft(s, first.id) is None and len(repo.list_shapes(s, first.id)) == 2
    assert "Restored" not in _infos(_open(project.id, first.id))


def test_save_keeps_a_restored_draft_and_clears_it(app_env, tmp_path):
    engine, project, _, (first, second) = _project(app_env, tmp_path)
    at = _open(project.id, first.id)
    _delete_first_shape(at)
    other = _open(project.id, second.id)  # another tab lists image 1 as unsaved
    assert any("Unsaved changes on: img0.tif" in w.value for w in other.warning)

    tab = _open(project.id, first.id)
    tab.button(key="annotate_save").click().run()
    assert not tab.exception, tab.exception
    with session_scope(engine) as s:
        assert repo.get_draft(s, first.id) is None
        assert [sh.kind for sh in repo.list_shapes(s, first.id)] == ["roi"]
    assert "Restored" not in _infos(tab)


def test_a_draft_of_older_annotations_asks_before_it_is_restored(app_env, tmp_path):
    engine, project, label, (first, _second) = _project(app_env, tmp_path)
    at = _open(project.id, first.id)
    _delete_first_shape(at)  # the draft: the ROI only, based on the version loaded
    with session_scope(engine) as s:  # meanwhile another tab saves a second polygon
        records = [{"label_id": label.id, "kind": "annotation", "geometry": "polygon", "points": SQUARE},
                   {"label_id": label.id, "kind": "annotation", "geometry": "polygon",
                    "points": [[50, 50], [70, 50], [70, 70]]}]
        repo.replace_shapes(s, first.id, records, expected_version=repo.get_image(s, first.id).updated_at)

    tab = _open(project.id, first.id)
    assert not tab.exception, tab.exception
    assert any("were drawn on older annotations" in w.value for w in tab.warning)
    assert tab.button(key="annotate_save").disabled  # the saved annotations are shown until the user chooses
    tab.button(key="draft_drop").click().run()
    with session_scope(engine) as s:
        assert repo.get_draft(s, first.id) is None and len(repo.list_shapes(s, first.id)) == 2

    # the same again, restoring this time: the save then replaces the newer annotations, as chosen
    at = _open(project.id, first.id)
    _delete_first_shape(at)
    with session_scope(engine) as s:
        repo.set_image_status(s, first.id, "annotated")  # any save moves the version on
    tab = _open(project.id, first.id)
    tab.button(key="draft_restore").click().run()
    assert not tab.exception, tab.exception
    assert "Restored 1 unsaved deletion(s)" in _infos(tab)
    tab.button(key="annotate_save").click().run()
    assert not tab.exception, tab.exception
    with session_scope(engine) as s:
        assert len(repo.list_shapes(s, first.id)) == 1 and repo.get_draft(s, first.id) is None


def test_stroke_for_starts_on_the_first_label(app_env, tmp_path):
    engine, project, label, (first, _second) = _project(app_env, tmp_path)
    at = _open(project.id, first.id)
    at.radio(key="annotate_mode").set_value("Assist").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="assist_label").value == label.id
