"""Image classes in the database: set and clear, status, counts, ROIs of a class, deleting a label, and an
older database file that lacks the column."""

from __future__ import annotations

import re
import sqlite3

import pytest

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import ANNOTATED, BACKGROUND, NOT_ANNOTATED, PROPOSED, Image
from core.errors import InvalidInputError


def _image(project_id: int, name: str, content_hash: str) -> Image:
    return Image(project_id=project_id, name=name, stored_path=f"x/{name}", width=10, height=8, channels=1,
                 dtype="uint8", content_hash=content_hash)


def _rect(label_id: int | None, kind: str, x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"label_id": label_id, "kind": kind, "geometry": "rectangle",
            "points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]}


@pytest.fixture
def project(engine):
    with session_scope(engine) as s:
        p = repo.create_project(s, "Blood")
        a = repo.add_label(s, p.id, "neutrophil")
        b = repo.add_label(s, p.id, "platelet")
        images = [repo.add_image(s, _image(p.id, f"im{i}.png", f"h{i}")) for i in range(3)]
        other = repo.create_project(s, "Other")
        foreign = repo.add_label(s, other.id, "neutrophil")
    return p.id, a.id, b.id, [im.id for im in images], foreign.id


def test_setting_and_clearing_a_class_follows_the_status_and_version(engine, project):
    pid, a, b, (i0, i1, _), _ = project
    with session_scope(engine) as s:
        before = repo.get_image(s, i0).updated_at
        image = repo.set_image_class(s, i0, a)
        assert image.class_id == a and image.status == ANNOTATED
        assert repo.is_current_version(image, image.updated_at) and image.updated_at > before
        version = image.updated_at
        same = repo.set_image_class(s, i0, a)  # the same class again writes nothing
        assert same.updated_at == version
        assert repo.set_image_class(s, i0, b).class_id == b
        assert repo.image_classes(s, pid) == {i0: b}
        cleared = repo.set_image_class(s, i0, None)
        assert cleared.class_id is None and cleared.status == NOT_ANNOTATED
        # a class on an image with annotations keeps it annotated when cleared
        repo.add_shapes(s, i1, [_rect(a, "annotation", 1, 1, 5, 5)])
        repo.set_image_class(s, i1, b)
        assert repo.set_image_class(s, i1, None).status == ANNOTATED


def test_class_must_be_a_label_of_the_images_project(engine, project):
    _, _, _, (i0, *_), foreign = project
    with session_scope(engine) as s:
        wrong = r"not a label of the project of im0\.png.*neutrophil, platelet"
        with pytest.raises(InvalidInputError, match=wrong):
            repo.set_image_class(s, i0, foreign)
        with pytest.raises(InvalidInputError, match="Class 99999"):
            repo.set_image_class(s, i0, 99999)
        assert repo.get_image(s, i0).class_id is None


def test_background_and_annotated_status_rules_with_a_class(engine, project):
    _, a, _, (i0, i1, _), _ = project
    with session_scope(engine) as s:
        repo.set_image_status(s, i0, BACKGROUND)
        assert repo.set_image_class(s, i0, a).status == ANNOTATED  # a class says what the image shows
        with pytest.raises(InvalidInputError, match="has a class, so it cannot be background-only"):
            repo.set_image_status(s, i0, BACKGROUND)
        repo.set_image_status(s, i0, ANNOTATED)  # allowed: the class is its annotation
        with pytest.raises(InvalidInputError, match="no annotations yet"):
            repo.set_image_status(s, i1, ANNOTATED)


def test_a_proposed_image_stays_proposed_until_accepted(engine, project):
    _, a, b, (_, _, i2), _ = project
    with session_scope(engine) as s:
        repo.propose_shapes(s, i2, [_rect(a, "annotation", 1, 1, 5, 5)])
        assert repo.set_image_class(s, i2, b).status == PROPOSED


def test_bulk_classes_all_or_nothing(engine, project):
    pid, a, b, (i0, i1, i2), foreign = project
    with session_scope(engine) as s:
        assert repo.set_image_classes(s, pid, {i0: a, i1: b}) == 2
        assert repo.set_image_classes(s, pid, {i0: a, i1: b}) == 0  # idempotent
        with pytest.raises(InvalidInputError, match="not a label"):
            repo.set_image_classes(s, pid, {i2: a, i0: foreign})
        assert repo.image_classes(s, pid) == {i0: a, i1: b}  # nothing of the refused batch written
        assert repo.set_image_classes(s, pid, {i0: None}) == 1
        assert repo.get_image(s, i0).status == NOT_ANNOTATED


def test_rois_carry_a_class_and_counts_add_them(engine, project):
    pid, a, b, (i0, i1, i2), foreign = project
    with session_scope(engine) as s:
        repo.set_image_class(s, i0, a)
        repo.set_image_class(s, i1, a)
        brush = {**_rect(a, "roi", 0, 0, 0, 0), "geometry": "brush", "points": [[2, 2], [4, 2]],
                 "stroke_width": 2.0}
        repo.add_shapes(s, i2, [_rect(b, "roi", 1, 2, 6, 7), _rect(None, "roi", 0, 0, 3, 3), brush])
        assert repo.get_image(s, i2).status == NOT_ANNOTATED  # an ROI is not an annotation
        assert repo.class_counts(s, pid) == {a: 3, b: 1}
        assert repo.roi_classes(s, [i0, i2]) == {i2: [(b, [1.0, 2.0, 6.0, 7.0]), (a, [1.0, 1.0, 5.0, 3.0])]}
        assert repo.roi_classes(s, []) == {}
        with pytest.raises(InvalidInputError, match="ROI's class"):
            repo.add_shapes(s, i0, [_rect(foreign, "roi", 1, 1, 4, 4)])
        shapes = repo.list_shapes(s, i2, kind="roi")
        assert [sh.label_id for sh in shapes] == [b, None, a]


def test_deleting_a_label_clears_its_classes_and_keeps_its_rois(engine, project):
    pid, a, b, (i0, i1, i2), _ = project
    with session_scope(engine) as s:
        repo.set_image_class(s, i0, a)
        repo.add_shapes(s, i1, [_rect(a, "annotation", 1, 1, 5, 5)])
        repo.set_image_class(s, i1, a)
        repo.add_shapes(s, i2, [_rect(a, "roi", 1, 1, 5, 5)])
        repo.set_image_class(s, i2, b)
        assert repo.count_label_shapes(s, a) == 1  # annotations only: the ROI is not deleted
        assert repo.delete_label(s, a) == 1
        assert repo.image_classes(s, pid) == {i2: b}
        assert repo.get_image(s, i0).status == NOT_ANNOTATED
        assert repo.get_image(s, i1).status == NOT_ANNOTATED  # its annotation went with the label
        rois = repo.list_shapes(s, i2)
        assert [(sh.kind, sh.label_id) for sh in rois] == [("roi", None)]
        assert repo.class_counts(s, pid) == {b: 1}


def _old_database(path) -> None:
    """A database file as an older segstudio made it: the image table without class_id."""
    make_engine(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:
        (ddl,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'image'").fetchone()
        kept = "\n".join(line for line in ddl.splitlines() if "class_id" not in line)
        old = re.sub(r",\s*\)\s*$", "\n)", kept)
        conn.execute("DROP TABLE image")
        conn.execute(old)
        assert "class_id" not in {row[1] for row in conn.execute("PRAGMA table_info(image)")}
        conn.execute("INSERT INTO project (name, created_at) VALUES ('Old', '2024-01-01 00:00:00')")
        conn.execute("INSERT INTO labelclass (project_id, name, color) VALUES (1, 'a', '#ff0000')")
        conn.execute("INSERT INTO image (project_id, name, stored_path, thumb_path, width, height, channels, "
                     "dtype, levels, is_wsi, is_rgb, notes, content_hash, status, created_at, updated_at) "
                     "VALUES (1, 'x.png', 'x/x.png', '', 10, 8, 1, 'uint8', 1, 0, 0, '[]', 'hx', "
                     "'not_annotated', '2024-01-01 00:00:00', '2024-01-01 00:00:00')")


def test_an_older_database_gets_the_column_its_key_and_index(tmp_path):
    path = tmp_path / "old.db"
    _old_database(path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(image)")}
            keys = list(conn.exec_driver_sql("PRAGMA foreign_key_list(image)"))
            indexes = {row[1] for row in conn.exec_driver_sql("PRAGMA index_list(image)")}
        assert "class_id" in columns and "ix_image_class_id" in indexes
        assert any(k[2] == "labelclass" and k[3] == "class_id" and k[6] == "SET NULL" for k in keys)
        with session_scope(engine) as s:
            assert repo.set_image_class(s, 1, 1).status == ANNOTATED
            assert repo.class_counts(s, 1) == {1: 1}
        with engine.begin() as conn:  # the foreign key itself clears the class, as in a new database
            conn.exec_driver_sql("DELETE FROM labelclass WHERE id = 1")
        with session_scope(engine) as s:
            assert repo.get_image(s, 1).class_id is None
    finally:
        engine.dispose()
