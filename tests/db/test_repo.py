from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text, update
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


def test_versions_grow_strictly_even_when_the_clock_does_not(engine):
    """A save whose clock reads no later than the last version still moves the version on, so a tab that
    loaded the earlier version is refused (the version is never reused)."""
    ahead = datetime.now(timezone.utc) + timedelta(hours=1)  # as if the last save's clock ran ahead
    with session_scope(engine) as s:
        p = repo.create_project(s, "P")
        lab = repo.add_label(s, p.id, "n")
        im = repo.add_image(s, _image(p.id))
        s.exec(update(Image).where(Image.id == im.id).values(updated_at=ahead))
        s.commit()
    with session_scope(engine) as tab1:
        first = repo.replace_shapes(tab1, im.id, [_square(lab.id)], expected_version=ahead).updated_at
    assert first > ahead
    with session_scope(engine) as tab2:
        second = repo.replace_shapes(tab2, im.id, [], expected_version=first).updated_at
    assert second > first
    with session_scope(engine) as tab3, pytest.raises(AnnotationError, match="Reload the image"):
        repo.replace_shapes(tab3, im.id, [_square(lab.id)], expected_version=first)


def test_a_save_is_refused_after_an_import_or_a_status_change(engine):
    with session_scope(engine) as s:
        p = repo.create_project(s, "P")
        lab = repo.add_label(s, p.id, "n")
        im = repo.add_image(s, _image(p.id))
        loaded = im.updated_at
        repo.add_shapes(s, im.id, [_square(lab.id)])
    with session_scope(engine) as tab, pytest.raises(AnnotationError, match="another tab"):
        repo.replace_shapes(tab, im.id, [], expected_version=loaded)
    with session_scope(engine) as s:
        assert len(repo.list_shapes(s, im.id)) == 1
        loaded = repo.get_image(s, im.id).updated_at
        repo.set_image_status(s, im.id, ANNOTATED)
    with session_scope(engine) as tab, pytest.raises(AnnotationError, match="another tab"):
        repo.replace_shapes(tab, im.id, [], expected_version=loaded)


def test_import_label_shapes_never_doubles(engine):
    with session_scope(engine) as s:
        p = repo.create_project(s, "P")
        lab, other = repo.add_label(s, p.id, "n"), repo.add_label(s, p.id, "m")
        im = repo.add_image(s, _image(p.id))
        square = {**_square(lab.id), "source": "import"}
        assert repo.import_label_shapes(s, im.id, lab.id, [square]) == ("added", 0)
        assert repo.import_label_shapes(s, im.id, lab.id, [square]) == ("same", 1)
        moved = {**square, "points": [[1, 1], [5, 1], [5, 5], [1, 5]]}
        assert repo.import_label_shapes(s, im.id, lab.id, [moved, square]) == ("kept", 1)
        assert len(repo.list_shapes(s, im.id)) == 1
        square_m = {**square, "label_id": other.id}
        assert repo.import_label_shapes(s, im.id, other.id, [square_m]) == ("added", 0)
        assert repo.import_label_shapes(s, im.id, lab.id, [moved, square], replace=True) == ("replaced", 1)
        by_label = {}
        for shape in repo.list_shapes(s, im.id):
            by_label.setdefault(shape.label_id, []).append(shape.points)
        assert len(by_label[lab.id]) == 2 and len(by_label[other.id]) == 1


def test_older_database_gains_the_image_notes_column(tmp_path):
    import sqlite3

    from core.db.engine import make_engine

    db = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{db}")
    engine.dispose()
    con = sqlite3.connect(db)  # the image table as it was before notes existed
    con.execute("ALTER TABLE image DROP COLUMN notes")
    con.execute("INSERT INTO project (name, created_at) VALUES ('P', '2024-01-01')")
    con.execute(
        "INSERT INTO image (project_id, name, stored_path, thumb_path, width, height, channels, dtype,"
        " levels, is_wsi, is_rgb, content_hash, status, created_at, updated_at) VALUES (1, 'a.tif',"
        " 'a.tif', '', 4, 4, 1, 'uint8', 1, 0, 0, 'h', 'not_annotated', '2024-01-01', '2024-01-01')"
    )
    con.commit()
    con.close()
    engine = make_engine(f"sqlite:///{db}")
    make_engine(f"sqlite:///{db}").dispose()  # a second process at the same time finds it added
    with session_scope(engine) as session:
        (image,) = repo.list_images(session, 1)
        assert image.notes == []


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
