"""Page loads while a training runs (target: under 2 s for every page), in a real Chromium.

    python bench/ui_load.py [--seconds 600] [--repeats 3]

Starts `streamlit run app.py` on a fresh data directory with its embedded worker, creates the demo project and a
small model package (so that Apply shows its model), queues a real training and, once it trains, opens every
page: first visit after the server started (a fresh browser session: Python imports and caches are cold), then
repeat visits (fresh sessions again; the median is printed). A load is timed from navigation to the page's own
content being visible. Prints a table and the CPU model (from lscpu).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _browser import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app
from playwright.sync_api import sync_playwright

from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.demo import create_demo_project
from core.trainings import WizardChoices, queue_training

PAGES = {  # URL path -> text that appears with the page's own content
    "": "Project: Demo",
    "projects": "Open project",
    "annotate": "Keyboard shortcuts",
    "wizard": "Step 1 of 8",
    "trainings": "Details of",
    "compare": "Trainings of every project",
    "models": "A trained model's name is its training's name",
    "apply": "Images of",
}


def cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return f"{fields.get('Model name', '?').strip()}, {fields.get('CPU(s)', '?').strip()} CPU(s)"


def _model_package(settings: Settings, channels: int) -> None:
    """A small untrained model package, so that Apply has a model to list (its page then reads the catalog)."""
    import torch

    from core.predictions import MODELS_DIR
    from core.training.models import build_model
    from core.training.package import write_package

    torch.manual_seed(0)
    card = {"encoder": "resnet18-compact", "in_channels": channels, "out_channels": 1,
            "training_type": "semantic",
            "labels": [{"id": 1, "name": "nucleus", "color": "#e6194b"}], "distance_head": False,
            "normalization": {"method": "percentile", "low": [0.0] * channels, "high": [255.0] * channels}}
    write_package(settings.data_dir / MODELS_DIR / "bench", build_model("resnet18-compact", channels, 1), card,
                  trace_size=64)


def _load(browser, url: str, ready: str) -> float:  # noqa: ANN001
    """Seconds from navigation to ``ready`` visible, in a new browser session."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(url)
        page.get_by_text(ready).first.wait_for(timeout=120_000)
        return time.perf_counter() - start
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600, help="budget of the training running meanwhile")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        settings = Settings(data_dir=data)
        engine = make_engine(settings.database_url)
        project = create_demo_project(settings, engine)
        with session_scope(engine) as s:
            images = repo.list_images(s, project.id)
            label = repo.list_labels(s, project.id)[0]
        _model_package(settings, images[0].channels)
        training = queue_training(settings, engine, WizardChoices(
            project_id=project.id, training_type="instance", label_ids=[label.id],
            image_ids=[im.id for im in images], duration=str(args.seconds), name="bench"))
        app = start_app(data, Path(tmp) / "streamlit.log")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                # The first visit after the start (home) starts the embedded worker: it is home's "first" load,
                # timed before the training has started; every other page's first visit is during the training.
                home_first = _load(browser, app.url, PAGES[""])
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    with session_scope(engine) as s:
                        t = repo.get_training(s, training.id)
                    if t.status == "running" and t.progress > 0.02:
                        break
                    time.sleep(1)
                print(f"training while measuring: {t.status} ({t.progress:.0%}, {t.message})")
                rows = []
                for path, ready in PAGES.items():
                    first = home_first if not path else _load(browser, f"{app.url}/{path}", ready)
                    again = [_load(browser, f"{app.url}/{path}", ready) for _ in range(args.repeats)]
                    name = f"/{path}" if path else "/ (home)"
                    rows.append((name, first, statistics.median(again), max(again)))
                with session_scope(engine) as s:
                    t = repo.get_training(s, training.id)
                print(f"training after measuring: {t.status} ({t.progress:.0%})")
                browser.close()
        finally:
            stop_app(app)
    print(f"\nCPU: {cpu_model()}")
    print(f"{'page':<14}{'first (s)':>10}{'repeat median (s)':>19}{'repeat worst (s)':>18}   target < 2 s")
    for name, first, median, worst in rows:
        verdict = "ok" if max(first, worst) < 2 else "SLOW"
        print(f"{name:<14}{first:>10.2f}{median:>19.2f}{worst:>18.2f}   {verdict}")


if __name__ == "__main__":
    main()
