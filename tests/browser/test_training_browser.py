"""Through the wizard in a real browser: start a training, watch progress and curves, see it finish.

Slow (about a minute): the default run's browser journeys (test_journey, test_detection_browser,
test_classification_browser) go through the wizard to a finished training too; this one also watches the
progress and the curves while it trains."""

from __future__ import annotations

import pytest

from tests.browser.conftest import click_when_single, wait_for_idle, wizard_next

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def click_next(page, to_step: int) -> None:  # noqa: ANN001
    wizard_next(page, to_step)


def test_wizard_start_progress_curves_finish(running_app, browser_page):
    page = browser_page
    page.goto(running_app.url)
    page.get_by_role("button", name="Create the demo project").click()
    page.get_by_text("Created the demo project").wait_for()

    page.goto(f"{running_app.url}/wizard")
    wait_for_idle(page)
    page.get_by_text("Step 1 of 9").wait_for()
    click_next(page, 2)  # project
    click_next(page, 3)  # training type (instance is preselected)
    click_next(page, 4)
    # the project's only label is selected already
    assert page.get_by_role("checkbox", name="nucleus — annotated in 6 image(s)").is_checked()
    assert page.get_by_text("Select at least 1 label").count() == 0
    click_next(page, 5)  # labels
    page.get_by_text("Manual: choose the training and validation images yourself").click()
    wait_for_idle(page)
    page.reload()  # a reload keeps the step and the choices (they are in the address)
    wait_for_idle(page)
    page.get_by_text("Step 5 of 9").wait_for()
    assert page.get_by_role("radio", name="Manual: choose the training and validation images yourself").is_checked()
    page.get_by_text("Random: 80 % training, 20 % validation (recommended)").click()
    wait_for_idle(page)
    click_next(page, 6)  # split (random)
    click_next(page, 7)  # images (all annotated)
    click_next(page, 8)  # start from (random weights)
    click_next(page, 9)  # duration (quick = 20 s in this test)
    page.get_by_label("Training name").fill("browser run")
    page.get_by_label("Training name").press("Enter")
    wait_for_idle(page)
    click_when_single(page, "Start training")
    # the wizard takes the user to the Trainings page, on the new training
    page.wait_for_url("**/trainings?training=*")
    page.get_by_text("number 1 in the queue").wait_for()
    wait_for_idle(page)
    page.get_by_text("browser run").first.wait_for()
    page.locator("[data-testid='stProgress']").first.wait_for(timeout=120_000)  # progress while it runs
    page.get_by_text("Configuration").first.wait_for()  # the newest training's details are shown
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=240_000)  # curves after the first epoch
    # drawn: the curves' points (Vega's SVG marks), not only the chart's frame
    page.locator("[data-testid='stVegaLiteChart'] .mark-symbol path").first.wait_for(timeout=30_000)
    page.get_by_text("finished ·").first.wait_for(timeout=300_000)
    page.get_by_text("Notifications").first.wait_for(timeout=30_000)
