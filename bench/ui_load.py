"""Time from request to the first widget of each page, on a project of 500 images and 20 finished trainings
(target: under 2 s per page).

    python bench/ui_load.py [--images 500] [--trainings 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
from _browser import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app, time_page
from playwright.sync_api import sync_playwright

from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import SUCCEEDED, EpochMetric, Training, utcnow
from core.projects import create_project, import_files

PAGES = {  # URL path -> text that appears with the page's first widgets
    "": "Project:",
    "projects": "Open project",
    "annotate": "Tool",
    "wizard": "Step 1 of 8",
    "trainings": "Details of",
}


def build_project(settings: Settings, n_images: int, n_trainings: int, folder: Path) -> None:
    engine = make_engine(settings.database_url)
    project = create_project(settings, engine, "Big project")
    with session_scope(engine) as s:
        label = repo.add_label(s, project.id, "nucleus")  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    files = []
    for i in range(n_images):
        path = folder / f"img_{i:04d}.tif"
        tifffile.imwrite(path, rng.integers(0, 255, (96, 128), dtype=np.uint8))
        files.append((path.name, path))
    start = time.perf_counter()
    report = import_files(settings, engine, project.id, files)  # type: ignore[arg-type]
    print(f"imported {len(report.imported)} images in {time.perf_counter() - start:.1f} s")
    with session_scope(engine) as s:
        for image in report.imported[: n_images // 2]:
            repo.add_shapes(s, image.id, [{"label_id": label.id, "kind": "annotation", "geometry": "polygon",  # type: ignore[arg-type]
                                           "points": [[10, 10], [40, 12], [35, 50], [12, 40]]}])
        for t in range(n_trainings):
            training = repo.add_training(s, Training(
                project_id=project.id, name=f"training {t}", status=SUCCEEDED, started_at=utcnow(),  # type: ignore[arg-type]
                finished_at=utcnow(), progress=1.0, config={"budget_seconds": 300},
                metrics={"overall": {"f1": 0.8}, "per_label": [{"label": "nucleus", "f1": 0.8}]}))
            for epoch in range(1, 31):
                repo.add_epoch_metric(s, EpochMetric(training_id=training.id, epoch=epoch, train_loss=1 / epoch,
                                                     val_loss=1.1 / epoch, train_iou=0.5, val_iou=0.45))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--trainings", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        build_project(Settings(data_dir=data), args.images, args.trainings, Path(tmp))
        app = start_app(data, Path(tmp) / "streamlit.log", {"SEGSTUDIO_EMBEDDED_WORKER": "0"})
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(app.url)
                page.get_by_text("Project:").first.wait_for(timeout=60_000)  # warm: first script run, caches
                print(f"{args.images} images, {args.trainings} finished trainings; request -> first widgets:")
                for path, ready in PAGES.items():
                    median, worst = time_page(page, f"{app.url}/{path}", ready)
                    print(f"  /{path or '(home)':<10} median {median:.2f} s, worst {worst:.2f} s (target < 2 s)")
                browser.close()
        finally:
            stop_app(app)


if __name__ == "__main__":
    main()
