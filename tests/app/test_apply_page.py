"""Apply: a queued prediction run is the one the page follows, through to its result or its failure."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import QUEUED, RUNNING
from core.demo import create_demo_project
from core.jobs import queue
from core.jobs.worker import Worker
from core.predictions import MODELS_DIR, available_models, queue_prediction
from core.training.models import build_model
from core.training.package import write_package

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _wait_finished(engine, run_id: int, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(engine) as s:
            run = repo.get_prediction(s, run_id)
        if run.status not in (QUEUED, RUNNING):
            return run
        time.sleep(0.3)
    raise AssertionError(f"prediction {run_id} still {run.status}")


def _apply(at: AppTest, image_id: int) -> AppTest:
    at.multiselect(key="apply_images").set_value([image_id]).run()
    next(b for b in at.button if b.key == "apply_start").click().run()
    assert not at.exception, at.exception
    return at


def test_the_page_follows_the_run_it_queued_to_its_result_or_its_failure(app_env):
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    with session_scope(engine) as s:
        image = repo.list_images(s, project.id)[0]
    package = app_env.data_dir / MODELS_DIR / "pointwise"
    torch.manual_seed(0)
    card = {"encoder": "resnet18-compact", "in_channels": image.channels, "out_channels": 1,
            "training_type": "semantic", "labels": [{"id": 1, "name": "nucleus", "color": "#e6194b"}],
            "distance_head": False,
            "normalization": {"method": "percentile", "low": [0.0] * image.channels,
                              "high": [255.0] * image.channels}}
    write_package(package, build_model("resnet18-compact", image.channels, 1), card, trace_size=64)
    [model] = available_models(app_env, engine)
    earlier = queue_prediction(app_env, engine, model, image_ids=[image.id])
    queue.request_cancel(engine, "prediction", earlier.id)  # an earlier run the picker shows first

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project.id
    at.switch_page("pages/apply.py")
    at.run()
    assert at.selectbox(key="apply_run_picker").value == earlier.id
    at = _apply(at, image.id)
    with session_scope(engine) as s:
        newest = repo.list_predictions(s, limit=1)[0]
    # the page switches to the run just queued and shows its progress (it used to keep the earlier run)
    assert newest.id != earlier.id and at.selectbox(key="apply_run_picker").value == newest.id
    assert any("queued" in p.proto.text for p in at.get("progress"))

    worker = Worker(app_env, poll_seconds=0.3).start()
    try:
        assert _wait_finished(engine, newest.id).status == "succeeded"
        at.run()  # what the polling fragment does once the run has ended: the page runs again
        assert not at.exception, at.exception
        assert at.selectbox(key="apply_run_picker").value == newest.id and not at.get("progress")
        assert any(m.label == "nucleus objects" for m in at.metric), [m.label for m in at.metric]

        for name in ("weights.pt", "model.torchscript.pt"):  # a damaged model: the next run fails
            (package / name).write_bytes(b"damaged")
        at = _apply(at, image.id)
        with session_scope(engine) as s:
            failing = repo.list_predictions(s, limit=1)[0]
        assert at.selectbox(key="apply_run_picker").value == failing.id
        assert _wait_finished(engine, failing.id).status == "failed"
    finally:
        worker.shutdown()
    at.run()
    assert any("This prediction run failed" in e.value for e in at.error), [e.value for e in at.error]
