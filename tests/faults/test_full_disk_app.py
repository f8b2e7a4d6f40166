"""The dashboard on a full disk: the error box says the disk is full and where, never a traceback."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from tests.faults.conftest import assert_sound

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_the_app_on_a_full_disk_shows_the_error_box(small_disk_factory, monkeypatch):
    disk = small_disk_factory(16)
    settings = Settings(data_dir=disk.path / "data")
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        repo.create_project(session, "Kept")
    engine.dispose()
    monkeypatch.setenv("SEGSTUDIO_DATA", str(settings.data_dir))
    monkeypatch.setenv("SEGSTUDIO_EMBEDDED_WORKER", "0")
    monkeypatch.delenv("SEGSTUDIO_DATABASE_URL", raising=False)
    monkeypatch.delenv("SEGSTUDIO_PASSWORD_HASH", raising=False)
    disk.fill()

    at = AppTest.from_file(APP, default_timeout=60).run()

    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "disk is full" in errors and str(settings.data_dir) in errors, errors
    disk.release()
    at = AppTest.from_file(APP, default_timeout=60).run()  # with room again, the app and the data are back
    assert not at.exception and not at.error
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        assert [p.name for p in repo.list_projects(session)] == ["Kept"]
    engine.dispose()
    assert_sound(settings)
