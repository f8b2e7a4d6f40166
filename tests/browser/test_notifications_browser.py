"""A job that ends while the app is open shows a toast at once, without a reload, and counts as seen."""

from __future__ import annotations

import pytest

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import QUEUED, Prediction
from tests.browser.conftest import wait_for_idle

pytestmark = pytest.mark.browser


def test_a_job_ending_while_the_page_is_open_shows_a_toast(running_app, browser_page):
    page = browser_page
    engine = make_engine(f"sqlite:///{running_app.data_dir / 'segstudio.db'}")
    page.goto(f"{running_app.url}/projects")  # starts the app's embedded worker
    wait_for_idle(page)
    page.get_by_role("heading", name="Projects", exact=True).first.wait_for()
    with session_scope(engine) as s:  # a prediction run of a model package that is not there: it fails
        run = repo.add_prediction(s, Prediction(model_dir="models/gone", config={"items": [{"image_id": 1}]},
                                                status=QUEUED, message="waiting in the queue"))
    toast = page.locator('[data-testid="stToast"]').filter(has_text=f"Prediction run {run.id} failed")
    toast.first.wait_for(timeout=120_000)  # the worker runs it; the sidebar looks every 5 s
    assert "Notifications" in page.locator('[data-testid="stSidebar"]').inner_text()
    with session_scope(engine) as s:
        assert repo.count_unread_notifications(s) == 0  # the toast was the look at it
    engine.dispose()
