"""Through the wizard in a real browser: start a training, watch progress and curves, see it finish."""

from __future__ import annotations

import pytest

from tests.browser.conftest import click_when_single, wait_for_idle, wizard_next

pytestmark = pytest.mark.browser


def click_next(page, to_step: int) -> None:  # noqa: ANN001
    wizard_next(page, to_step)


def test_wizard_start_progress_curves_finish(running_app, browser_page):
    page = browser_page
    page.goto(running_app.url)
    page.get_by_role("button", name="Create the demo project").click()
    page.get_by_text("Created the demo project").wait_for()

    page.goto(f"{running_app.url}/wizard")
    wait_for_idle(page)
    page.get_by_text("Step 1 of 8").wait_for()
    click_next(page, 2)  # project
    click_next(page, 3)  # training type (instance is preselected)
    click_next(page, 4)
    page.get_by_text("Select at least 1 label").wait_for()
    assert page.get_by_role("button", name="Next").is_disabled()
    page.get_by_text("nucleus — annotated in 6 image(s)").click()
    wait_for_idle(page)
    page.get_by_text("Select at least 1 label").wait_for(state="detached")
    click_next(page, 5)  # labels
    click_next(page, 6)  # split (random)
    click_next(page, 7)  # images (all annotated)
    click_next(page, 8)  # duration (quick = 20 s in this test)
    page.get_by_label("Training name").fill("browser run")
    page.get_by_label("Training name").press("Enter")
    wait_for_idle(page)
    click_when_single(page, "Start training")
    page.get_by_text("number 1 in the queue").wait_for()

    page.goto(f"{running_app.url}/trainings")
    wait_for_idle(page)
    page.get_by_text("browser run").first.wait_for()
    page.locator("[data-testid='stProgress']").first.wait_for(timeout=120_000)  # progress while it runs
    page.get_by_text("Configuration").first.wait_for()  # the newest training's details are shown
    page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=240_000)  # curves after the first epoch
    page.get_by_text("finished ·").first.wait_for(timeout=300_000)
    page.get_by_text("Notifications").first.wait_for(timeout=30_000)
