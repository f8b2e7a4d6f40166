"""The Models page opened by its URL (a bookmark), its Apply button, and two trainings compared."""

from __future__ import annotations

import pytest

from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from tests.browser.conftest import wait_for_idle
from tests.models_helpers import imported_package, trained_model

pytestmark = pytest.mark.browser


def _config(seed: int) -> dict:
    train = {"training_type": "semantic", "labels": [{"id": 1, "name": "nucleus", "color": "#e6194b"}],
             "encoder": "resnet18-compact", "seed": seed, "duration": "quick"}
    return {"train_config": train, "wizard": {"split_mode": "random"}, "budget_seconds": 60}


@pytest.mark.slow  # 11 s; the Models page's actions are AppTests in tests/app/test_models_page.py
def test_models_page_apply_and_compare(running_app, browser_page):
    settings = Settings(data_dir=running_app.data_dir)
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        project = repo.create_project(s, "Nuclei")
    a = trained_model(settings, engine, project.id, "first", config=_config(1),
                      curves=((0.6, 0.3), (0.9, 0.5)))
    b = trained_model(settings, engine, project.id, "second", config=_config(2), curves=((0.7, 0.4),))
    imported_package(settings, "shared-abc")
    engine.dispose()
    page = browser_page

    page.goto(f"{running_app.url}/models")  # the first page opened after the start, by its URL
    wait_for_idle(page)
    page.get_by_role("heading", name="Models", exact=True).first.wait_for()
    assert page.locator('[data-testid="stSidebarNav"]').count() == 1  # inside the app's frame
    for name in ("first", "second", "shared-abc"):
        page.get_by_text(name, exact=True).first.wait_for()
    page.locator(".st-key-apply_imported_shared-abc button").click()
    page.get_by_role("heading", name="Apply a model", exact=True).first.wait_for()
    wait_for_idle(page)
    assert "model=imported" in page.url
    assert "shared-abc (imported)" in page.locator(".st-key-apply_model input").input_value()

    page.goto(f"{running_app.url}/compare?trainings={a.id},{b.id}")
    wait_for_idle(page)
    page.get_by_role("heading", name="Compare trainings", exact=True).first.wait_for()
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.locator("text", has_text="validation").first.wait_for()  # drawn, legend included
    legend = chart.text_content()
    assert f"#{a.id} first" in legend and f"#{b.id} second" in legend and "validation" in legend
    page.get_by_text("Only the settings that differ.").wait_for()
    assert page.locator('[data-testid="stDataFrame"]').count() == 3  # scores, facts, the settings' diff
