from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.db import repo, session_scope
from core.db.models import ANNOTATED, BACKGROUND, NOT_ANNOTATED, Image, LabelClass, Project, Shape
from core.errors import AnnotationError, DuplicateError, InvalidInputError, NotFoundError


def _image(project_id: int, name: str = "a.tif", content_hash: str = "h1") -> Image:
    return Image(project_id=project_id, name=name, stored_path=f"x/{name}", width=10, height=8, channels=1,
                 dtype="uint8", content_hash=content_hash)


def _square(label_id: int | None, kind: str = "annotation") -> dict:
    return {"label_id": label_id, "kind": kind, "geometry": "polygon", "points": [[0, 0], [4, 0], [4, 4], [0, 4]]}


def test_sqlite_pragmas(engine):
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_project_crud_and_name_rules(engine):
    with session_scope(engine) as s:
        p = repo.create_project(s, "  Nuclei   set ")
        assert p.name == "Nuclei set"
        with pytest.raises(DuplicateError, match="exists already"):
            repo.create_project(s, "nuclei SET")
        with pytest.raises(InvalidInputError, match="empty"):
            repo.create_project(s, "   ")
        with pytest.raises(InvalidInputError, match="at most 200"):
            repo.create_project(s, "x" * 201)
        q = repo.create_project(s, "Other")
        with pytest.raises(DuplicateError):
            repo.rename_project(s, q.id, "Nuclei set")
        assert repo.rename_project(s, q.id, "Mito").name == "Mito"
        assert [x.name for x in repo.list_projects(s)] == ["Mito", "Nuclei set"]
        assert repo.find_project(s, "mito").id == q.id
        assert repo.find_project(s, str(p.id)).id == p.id
        with pytest.raises(NotFoundError, match="Known projects: Mito, Nuclei set"):
            repo.find_project(s, "nope")


def test_labels_unique_per_project_and_colours(engine):
    with session_scope(engine) as s:
        a = repo.create_project(s, "A")
        b = repo.create_project(s, "B")
        nucleus = repo.add_label(s, a.id, "nucleus")
        assert nucleus.color.startswith("#") and len(nucleus.color) == 7
        assert repo.add_label(s, a.id, "cell").color != nucleus.color
        with pytest.raises(DuplicateError, match="unique per project"):
            repo.add_label(s, a.id, "Nucleus")
        repo.add_label(s, b.id, "nucleus")  # same name in another project is fine
        with pytest.raises(InvalidInputError, match="hex colour"):
            repo.add_label(s, a.id, "x", "red")
        updated = repo.update_label(s, nucleus.id, name="nuclei", color="#00FF00")
        assert (updated.name, updated.color) == ("nuclei", "#00ff00")
        with pytest.raises(DuplicateError):
            repo.update_label(s, nucleus.id, name="cell")


def test_db_constraints_enforced(engine):
    with session_scope(engine) as s:
        p = repo.create_project(s, "P")
        s.add(LabelClass(project_id=p.id, name="n"))
        s.commit()
        s.add(LabelClass(project_id=p.id, name="n"))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        s.add(LabelClass(project_id=9999, name="orphan"))
        with pytest.raises(IntegrityError):  # foreign keys are on
            s.commit()
        s.rollback()
        repo.add_image(s, _image(p.id))
        with pytest.raises(DuplicateError, match="same content"):
            repo.add_image(s, _image(p.id, name="b.tif"))


def test_delete_project_cascades(engine):
    with session_scope(engine) as s:
        p = repo.create_project(s, "P")
        lab = repo.add_label(s, p.id, "n")
        im = repo.add_image(s, _image(p.id))
        repo.add_shapes(s, im.id, [_square(lab.id)])
        repo.delete_project(s, p.id)
        assert s.exec(text("select count(*) from image")).one()[0] == 0
        assert s.exec(text("select count(*) from shape")).one()[0] == 0
        assert s.exec(text("select count(*) from labelclass")).one()[0] == 0


def test_status_follows_annotations(engine):
    with session_scope(engine) as s:
        p = repo.create_project(s, "P")
        lab = repo.add_label(s, p.id, "n")
        im = repo.add_image(s, _image(p.id))
        assert im.status == NOT_ANNOTATED
        with pytest.raises(InvalidInputError, match="no annotations"):
            repo.set_image_status(s, im.id, ANNOTATED)
        assert repo.set_image_status(s, im.id, BACKGROUND).status == BACKGROUND
        repo.add_shapes(s, im.id, [_square(None, "roi")])  # an ROI is not an annotation
        assert repo.get_image(s, im.id).status == BACKGROUND
        repo.add_shapes(s, im.id, [_square(lab.id)])
        assert repo.get_image(s, im.id).status == ANNOTATED
        with pytest.raises(InvalidInputError, match="cannot be background-only"):
            repo.set_image_status(s, im.id, BACKGROUND)
        assert repo.status_counts(s, p.id)[ANNOTATED] == 1
        assert repo.annotation_summary(s, p.id) == {im.id: {lab.id: 1}}
        # deleting the label asks first in the UI; here it removes its shapes and the status follows
        assert repo.count_label_shapes(s, lab.id) == 1
        assert repo.delete_label(s, lab.id) == 1
        assert repo.get_image(s, im.id).status == NOT_ANNOTATED
        assert [sh.kind for sh in repo.list_shapes(s, im.id)] == ["roi"]


def test_shapes_need_a_label_of_the_project(engine):
    with session_scope(engine) as s:
        a = repo.create_project(s, "A")
        b = repo.create_project(s, "B")
        other = repo.add_label(s, b.id, "n")
        im = repo.add_image(s, _image(a.id))
        with pytest.raises(InvalidInputError, match="not in this image's project"):
            repo.add_shapes(s, im.id, [_square(other.id)])
        assert repo.list_shapes(s, im.id) == []


def test_concurrent_save_conflict_is_reported(engine):
    with session_scope(engine) as s:
        p = repo.create_project(s, "P")
        lab = repo.add_label(s, p.id, "n")
        im = repo.add_image(s, _image(p.id))
        loaded_version = im.updated_at
    with session_scope(engine) as tab1:
        repo.replace_shapes(tab1, im.id, [_square(lab.id)], expected_version=loaded_version)
    with session_scope(engine) as tab2, pytest.raises(AnnotationError, match="another tab"):
        repo.replace_shapes(tab2, im.id, [_square(lab.id), _square(lab.id)], expected_version=loaded_version)
    with session_scope(engine) as s:
        assert len(repo.list_shapes(s, im.id)) == 1  # the first save stands, nothing corrupted
        assert s.get(Shape, repo.list_shapes(s, im.id)[0].id).points[2] == [4, 4]
        assert s.get(Project, p.id) is not None


def test_a_database_made_before_a_column_was_added_gets_it(tmp_path):
    import sqlite3

    from core.db.engine import make_engine
    from core.db.models import Training

    url = f"sqlite:///{tmp_path / 'old.db'}"
    make_engine(url).dispose()
    con = sqlite3.connect(tmp_path / "old.db")  # as an older segstudio made it: no rss_bytes
    con.execute("ALTER TABLE training DROP COLUMN rss_bytes")
    con.execute("INSERT INTO project (name, created_at) VALUES ('P', '2024-01-01 00:00:00.000000')")
    con.execute("INSERT INTO training (project_id, name, config, status, progress, epoch, message, error, "
                "cancel_requested, worker_id, created_at, split, metrics, model_dir, report_path) VALUES "
                "(1, 'old', '{}', 'succeeded', 1.0, 3, '', '', 0, '', '2024-01-01 00:00:00.000000', '{}', "
                "'{}', '', '')")
    con.commit()
    con.close()
    engine = make_engine(url)
    with session_scope(engine) as s:
        old = repo.get_training(s, 1)
        assert (old.name, old.epoch, old.rss_bytes) == ("old", 3, None)
        repo.add_training(s, Training(project_id=1, name="new", rss_bytes=5))
    make_engine(url).dispose()  # a second start finds nothing to add
    engine.dispose()
