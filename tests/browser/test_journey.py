"""The whole journey of a first-time user in a real browser, from an empty data directory:
demo project -> a polygon by mouse -> wizard -> training with progress and curves -> report ZIP ->
apply the model -> measurements CSV. Screenshots of each main screen go to the README
(written to tests/browser/screenshots/ when SEGSTUDIO_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import re

import csv
import io
import os
import zipfile
from pathlib import Path

import pytest

from tests.browser.conftest import canvas_box, click_when_single, to_screen, wait_for_idle, wizard_next

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).parent / "screenshots"


def shot(page, name: str, tmp_path: Path) -> None:  # noqa: ANN001
    folder = SHOTS if os.environ.get("SEGSTUDIO_UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def test_first_run_to_report_and_measurements(running_app, browser_page, tmp_path):
    page = browser_page
    page.goto(running_app.url)
    page.get_by_text("Welcome! Start here").wait_for()
    shot(page, "01_welcome", tmp_path)
    page.get_by_role("button", name="Create the demo project").click()
    page.get_by_text("Created the demo project").wait_for()

    page.goto(f"{running_app.url}/projects")
    page.get_by_text("0e5edb072788c7b1.png").first.wait_for()
    wait_for_idle(page)
    shot(page, "02_projects", tmp_path)

    page.goto(f"{running_app.url}/annotate")
    wait_for_idle(page)
    box = canvas_box(page)
    for x, y in [(133, 133), (187, 133), (187, 187), (133, 187), (133, 133)]:  # image pixels
        page.mouse.click(*to_screen(box, x, y))
        page.wait_for_timeout(150)
    page.get_by_text("You have unsaved changes on this image.").wait_for()
    click_when_single(page, "Save")
    page.get_by_text(re.compile(r"^Saved \d+ shape")).first.wait_for()
    wait_for_idle(page)
    shot(page, "03_annotate", tmp_path)

    page.goto(f"{running_app.url}/wizard")
    page.get_by_text("Step 1 of 9").wait_for()
    for step in (2, 3, 4):
        wizard_next(page, step)
    page.get_by_text("nucleus — annotated in 6 image(s)").wait_for()  # the project's only label: chosen already
    assert page.get_by_text("Select at least 1 label").count() == 0
    for step in (5, 6, 7, 8, 9):
        wizard_next(page, step)
    page.get_by_label("Training name").fill("journey")
    page.get_by_label("Training name").press("Enter")
    wait_for_idle(page)
    shot(page, "04_wizard_review", tmp_path)
    click_when_single(page, "Start training")
    page.get_by_text("number 1 in the queue").wait_for()

    page.goto(f"{running_app.url}/trainings")
    page.get_by_text("Configuration").first.wait_for()
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=300_000)
    page.get_by_text("finished ·").first.wait_for(timeout=300_000)
    page.get_by_role("button", name="Download report (ZIP)").wait_for(timeout=60_000)
    wait_for_idle(page)
    shot(page, "05_trainings", tmp_path)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download report (ZIP)").click()
    report = tmp_path / "report.zip"
    download.value.save_as(report)
    with zipfile.ZipFile(report) as archive:
        names = set(archive.namelist())
    assert {"report.pdf", "metrics.json", "metrics_per_image.csv", "curves.csv", "README.txt"} <= names
    assert any(n.startswith("validation_visualizations/") for n in names)
    assert {"model/model_card.json", "model/weights.pt", "model/model.torchscript.pt"} <= names

    page.goto(f"{running_app.url}/apply")
    page.get_by_text("Images of").first.wait_for()
    page.locator("[data-testid='stMultiSelect']").first.click()
    page.get_by_role("option").first.click()
    page.keyboard.press("Escape")
    wait_for_idle(page)
    page.get_by_role("button", name="Apply the model").click()
    page.get_by_role("button", name="Measurements (CSV)").first.wait_for(timeout=300_000)
    wait_for_idle(page)
    shot(page, "06_apply", tmp_path)
    with page.expect_download() as download:
        page.get_by_role("button", name="Measurements (CSV)").first.click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    header = set(rows[0]) if rows else set()
    assert not rows or {"label", "area", "perimeter", "centroid_y"} & header
