"""Apply in a real browser: an object clicked in the prediction's picture selects its row in the measurements
table, and the page follows the prediction run it queued (its progress, then its result or its failure)
without a reload."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile

from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import SUCCEEDED, Prediction
from core.inference import export_prediction
from tests.browser.conftest import choose_first_option, wait_for_idle
from tests.models_helpers import imported_package

pytestmark = pytest.mark.browser
PICTURE = 'img[data-testid="picture-click"]'


def _finished_prediction(settings: Settings, engine) -> Prediction:
    """A finished run over an uploaded 400 x 600 image with two "nucleus" objects far apart: object 1 at rows
    20-39, columns 30-56, object 2 at rows 350-380, columns 540-569 (the files the worker would write)."""
    model = imported_package(settings, "nuclei")
    out = settings.data_dir / "predictions" / "browser" / "000"
    out.mkdir(parents=True)
    image = np.random.default_rng(0).integers(0, 200, (400, 600), dtype=np.uint8)
    labels = np.zeros((400, 600), dtype=np.uint16)
    labels[20:40, 30:57] = 1
    labels[350:381, 540:570] = 2
    tifffile.imwrite(out / "cells.tif", image)
    tifffile.imwrite(out / "cells_labels.tif", labels, tile=(32, 32), metadata=None,
                     description=json.dumps({"labels": ["nucleus"], "training_type": "instance",
                                             "label_ids": [1]}))
    files = export_prediction(out / "cells_labels.tif", image[None], out, stem="cells")
    with zipfile.ZipFile(out / "cells.zip", "w") as bundle:
        for path in files.values():
            bundle.write(path, Path(path).name)
    relative = {name: Path(path).relative_to(settings.data_dir).as_posix() for name, path in
                {"stored": out / "cells.tif", "labels": out / "cells_labels.tif", "zip": out / "cells.zip",
                 **files}.items()}
    with session_scope(engine) as s:
        return repo.add_prediction(s, Prediction(
            model_dir=model.relative_to(settings.data_dir).as_posix(), status=SUCCEEDED, progress=1.0,
            message="done", config={"items": [{"name": "cells.tif"}], "model_title": "nuclei (imported)"},
            results={"images": [{"index": 0, "name": "cells.tif", **relative, "counts": {"nucleus": 2}}]}))


def _click_image_point(page, u: float, v: float) -> None:
    """Click image point (u, v) of the prediction's picture (its element says which view it shows)."""
    picture = page.locator(PICTURE)
    picture.scroll_into_view_if_needed()
    view = picture.evaluate("p => ({x0: +p.dataset.x0, y0: +p.dataset.y0, scale: +p.dataset.scale, "
                            "natural: p.naturalWidth})")
    box = picture.bounding_box()
    shown = box["width"] / view["natural"]  # screen pixels per picture pixel
    page.mouse.click(box["x"] + (u - view["x0"]) * view["scale"] * shown,
                     box["y"] + (v - view["y0"]) * view["scale"] * shown)


def _selected_rows(page) -> list[int]:
    """The table's selected rows (1 = the first object), from the grid's accessible table."""
    wait_for_idle(page)
    rows = page.locator('[data-testid="stDataFrame"] tr[aria-selected="true"]')
    return [int(rows.nth(i).get_attribute("aria-rowindex")) - 1 for i in range(rows.count())]


def test_an_object_clicked_in_the_picture_selects_its_row(running_app, browser_page):
    settings = Settings(data_dir=running_app.data_dir)
    engine = make_engine(settings.database_url)
    _finished_prediction(settings, engine)
    engine.dispose()
    page = browser_page
    page.goto(f"{running_app.url}/apply")
    wait_for_idle(page)
    page.locator(PICTURE).wait_for()
    assert _selected_rows(page) == []
    _click_image_point(page, 555, 365)  # object 2
    page.get_by_text("Selected: object 2 (nucleus), row 2 of 2").wait_for()
    page.get_by_text("Object 2 (nucleus) outlined in yellow").wait_for()
    assert _selected_rows(page) == [2]
    _click_image_point(page, 40, 30)  # object 1
    page.get_by_text("Selected: object 1 (nucleus), row 1 of 2").wait_for()
    assert _selected_rows(page) == [1]
    _click_image_point(page, 300, 200)  # background: no row
    page.get_by_text("Selected: object").wait_for(state="detached")
    assert _selected_rows(page) == []


def _real_model(settings: Settings, channels: int) -> Path:
    """A small untrained model package that loads and predicts (what the worker runs)."""
    import torch

    from core.predictions import MODELS_DIR
    from core.training.models import build_model
    from core.training.package import write_package

    torch.manual_seed(0)
    card = {"encoder": "resnet18-compact", "in_channels": channels, "out_channels": 1,
            "training_type": "semantic", "labels": [{"id": 1, "name": "nucleus", "color": "#e6194b"}],
            "distance_head": False,
            "normalization": {"method": "percentile", "low": [0.0] * channels, "high": [255.0] * channels}}
    package = settings.data_dir / MODELS_DIR / "pointwise"
    write_package(package, build_model("resnet18-compact", channels, 1), card, trace_size=64)
    return package


def _choose_first_image(page) -> None:
    choose_first_option(page, "apply_images")


def _apply(page) -> None:
    page.get_by_role("button", name="Apply the model", disabled=False).click()


def _run_shown(page) -> str:
    """The prediction run the page shows (its picker's text)."""
    return page.locator(".st-key-apply_run_picker input").input_value()


def test_apply_follows_the_run_it_queued_to_its_result_or_its_failure(running_app, browser_page):
    from core.demo import create_demo_project

    settings = Settings(data_dir=running_app.data_dir)
    engine = make_engine(settings.database_url)
    project = create_demo_project(settings, engine)
    with session_scope(engine) as s:
        image = repo.list_images(s, project.id)[0]
    package = _real_model(settings, image.channels)
    page = browser_page
    page.goto(f"{running_app.url}/apply")
    wait_for_idle(page)
    _choose_first_image(page)
    _apply(page)
    # its progress first (queued, then running), on the same page: no reload from here on
    page.locator('[data-testid="stProgress"]').first.wait_for()
    with session_scope(engine) as s:
        run = repo.list_predictions(s, limit=1)[0]
    assert _run_shown(page).startswith(f"#{run.id} ")
    # then its result, once the worker has finished it
    page.get_by_text("nucleus objects").first.wait_for(timeout=180_000)
    page.locator('[data-testid="stProgress"]').wait_for(state="detached")
    with session_scope(engine) as s:
        assert repo.get_prediction(s, run.id).status == "succeeded"
    page.get_by_role("button", name="Measurements (CSV)").first.wait_for()
    assert page.get_by_text("Queued prediction run").count() == 0  # the page no longer says it is queued

    for name in ("weights.pt", "model.torchscript.pt"):  # a damaged model: the next run fails
        (package / name).write_bytes(b"damaged")
    _apply(page)  # the image is still chosen
    page.get_by_text("This prediction run failed").wait_for(timeout=120_000)
    with session_scope(engine) as s:
        failed = repo.list_predictions(s, limit=1)[0]
    assert failed.id != run.id and failed.status == "failed"
    assert _run_shown(page).startswith(f"#{failed.id} ")
    assert page.get_by_text("nucleus objects").count() == 0  # the failed run's page, not the earlier result
    engine.dispose()
