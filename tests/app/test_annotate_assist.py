"""The annotate page's assist mode: strokes -> proposal -> accept -> save; pre-annotation -> review -> accept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage
from streamlit.testing.v1 import AppTest

from core import projects as ops
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import ANNOTATED, NOT_ANNOTATED, PROPOSED, QUEUED
from core.jobs import child, queue

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def two_textures(seed: int, size: tuple[int, int] = (120, 160)) -> tuple[np.ndarray, np.ndarray]:
    """Fine noise inside two discs, coarse blobs outside, with the same mean intensity: (image uint8, truth)."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    truth = ((yy - 40) ** 2 + (xx - 45) ** 2 < 22**2) | ((yy - 75) ** 2 + (xx - 115) ** 2 < 26**2)
    fine = rng.normal(128, 40, size)
    coarse = ndimage.gaussian_filter(rng.normal(128, 40, size), 4) * 4 - 3 * 128
    image = np.where(truth, fine, coarse)
    return np.clip(image, 0, 255).astype(np.uint8), truth


def _project(settings, tmp_path, n: int = 2, extra: list | None = None):
    """Project "P" with a label "cell" and ``n`` two-texture images (plus ``extra`` (name, path) files)."""
    engine = make_engine(settings.database_url)
    project = ops.create_project(settings, engine, "P")
    with session_scope(engine) as s:
        label = repo.add_label(s, project.id, "cell", "#00ff00")
    files = []
    for k in range(n):
        path = tmp_path / f"img{k}.tif"
        tifffile.imwrite(path, two_textures(k)[0])
        files.append((f"img{k}.tif", path))
    report = ops.import_files(settings, engine, project.id, files + list(extra or []))
    assert report.ok, report.errors
    return engine, project, label, report.imported


def _open(project_id: int, image_id: int) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["project_id"] = project_id
    at.query_params["image"] = str(image_id)
    at.switch_page("pages/annotate.py")
    return at.run()


def _strokes(engine, image_id: int, label_id: int) -> None:
    with session_scope(engine) as s:
        repo.add_scribble(s, image_id, [[35, 40], [55, 40]], width=4, label_id=label_id)
        repo.add_scribble(s, image_id, [[105, 75], [125, 78]], width=4, label_id=label_id)
        repo.add_scribble(s, image_id, [[5, 110], [150, 112]], width=4, label_id=None)
        repo.add_scribble(s, image_id, [[150, 5], [150, 40]], width=4, label_id=None)
        repo.add_scribble(s, image_id, [[90, 10], [110, 20]], width=4, label_id=None)


def test_assist_accept_then_save(app_env, tmp_path):
    engine, project, label, (first, second) = _project(app_env, tmp_path)
    at = _open(project.id, first.id)
    at.radio(key="annotate_mode").set_value("Assist").run()
    assert not at.exception, at.exception
    assert any("Brush some **background**" in i.value for i in at.info)
    assert at.button(key="assist_accept").disabled

    _strokes(engine, first.id, label.id)
    at.run()
    assert not at.exception, at.exception
    assert not at.button(key="assist_accept").disabled
    assert any("Learnt from 5 stroke(s)" in c.value for c in at.caption)
    at.button(key="assist_accept").click().run()
    assert not at.exception, at.exception
    assert at.radio(key="annotate_mode").value == "Draw"
    assert any("Accepted 2 proposed shape(s)" in s.value for s in at.success)
    at.button(key="annotate_save").click().run()
    with session_scope(engine) as s:
        shapes = repo.list_shapes(s, first.id)
        assert repo.get_image(s, first.id).status == ANNOTATED
    assert len(shapes) == 2 and {sh.source for sh in shapes} == {"proposal"}

    # the same forest pre-annotates the other image in the background
    at.radio(key="annotate_mode").set_value("Assist").run()
    assert not at.exception, at.exception
    assert at.multiselect(key=f"preannotate_images_{project.id}").value == [second.id]
    at.button(key="preannotate_start").click().run()
    with session_scope(engine) as s:
        [job] = repo.list_preannotations(s, project.id)
    assert job.status == QUEUED and job.config["image_ids"] == [second.id]
    assert queue.claim(engine, "preannotation", job.id, "test")
    assert child.run("preannotation", job.id, settings=app_env) == 0
    with session_scope(engine) as s:
        job = repo.get_preannotation(s, job.id)
        assert job.status == "succeeded", job.error
        assert repo.get_image(s, second.id).status == PROPOSED
        assert len(repo.list_shapes(s, second.id)) == 2
    assert job.results["images"][0]["outcome"] == "proposed"

    # the proposed image: review, then accept
    at = _open(project.id, second.id)
    assert not at.exception, at.exception
    assert any("The assistant proposed the 2 annotation(s)" in i.value for i in at.info)
    at.button(key="proposal_accept").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert repo.get_image(s, second.id).status == ANNOTATED


def test_reject_a_proposal(app_env, tmp_path):
    engine, project, label, (first, second) = _project(app_env, tmp_path)
    with session_scope(engine) as s:
        repo.propose_shapes(s, second.id, [{"label_id": label.id, "kind": "annotation", "geometry": "polygon",
                                             "points": [[1, 1], [9, 1], [9, 9]], "source": "proposal"}])
    at = _open(project.id, second.id)
    at.button(key="proposal_reject").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert repo.get_image(s, second.id).status == NOT_ANNOTATED
        assert repo.list_shapes(s, second.id) == []
