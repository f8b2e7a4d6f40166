"""A bioimage.io package made elsewhere, imported, applied from the Apply page: the run succeeds and shows
one result per output channel."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import QUEUED, RUNNING
from core.demo import create_demo_project
from core.inference.package_io import import_model_package
from core.jobs.worker import Worker
from core.predictions import MODELS_DIR

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_an_imported_bioimageio_model_is_applied_from_the_apply_page(app_env, foreign: Path):
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    with session_scope(engine) as s:
        image = repo.list_images(s, project.id)[0]
    folder = import_model_package(foreign, app_env.data_dir / MODELS_DIR)

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project.id
    at.switch_page("pages/apply.py")
    at.run()
    assert not at.exception, at.exception
    at.selectbox(key="apply_model").set_value(f"imported:{folder.name}").run()
    at.multiselect(key="apply_images").set_value([image.id]).run()
    next(b for b in at.button if b.key == "apply_start").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        run = repo.list_predictions(s, limit=1)[0]

    worker = Worker(app_env, poll_seconds=0.3).start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with session_scope(engine) as s:
                run = repo.get_prediction(s, run.id)
            if run.status not in (QUEUED, RUNNING):
                break
            time.sleep(0.3)
    finally:
        worker.shutdown()
    assert run.status == "succeeded", run.error
    at.run()
    assert not at.exception, at.exception
    labels = {m.label for m in at.metric}
    assert {"classes interior objects", "distance nucleus objects"} <= labels, labels
