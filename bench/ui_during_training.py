"""How fast the Trainings page answers while a training runs on the same machine (target: under 1 s).

    python bench/ui_during_training.py [--seconds 120]

Starts `streamlit run app.py` on a fresh data directory with its embedded worker, creates the demo project,
queues a training, and while it trains loads the Trainings page repeatedly in Chromium, timing request ->
page title and list visible.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _browser import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app, time_page
from playwright.sync_api import sync_playwright

from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.demo import create_demo_project
from core.trainings import WizardChoices, queue_training


def _script_runs(data: Path, project_id: int, samples: int) -> list[float]:
    """Seconds of one run of the page's script on the server (what each refresh costs there)."""
    import os

    from streamlit.testing.v1 import AppTest

    os.environ.update(SEGSTUDIO_DATA=str(data), SEGSTUDIO_EMBEDDED_WORKER="0")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.session_state["project_id"] = project_id
    at.switch_page("pages/trainings.py")
    at.run()  # imports and caches
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        at.run()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=120, help="budget of the training running meanwhile")
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        settings = Settings(data_dir=data)
        engine = make_engine(settings.database_url)
        project = create_demo_project(settings, engine)
        with session_scope(engine) as s:
            images = repo.list_images(s, project.id)
            label = repo.list_labels(s, project.id)[0]
        training = queue_training(settings, engine, WizardChoices(
            project_id=project.id, training_type="instance", label_ids=[label.id],
            image_ids=[im.id for im in images], duration=str(args.seconds), name="bench"))
        app = start_app(data, Path(tmp) / "streamlit.log")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(app.url)  # starts the embedded worker
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    with session_scope(engine) as s:
                        t = repo.get_training(s, training.id)
                    if t.status == "running" and t.progress > 0.05:
                        break
                    time.sleep(1)
                print(f"training status while measuring: {t.status} ({t.progress:.0%}, {t.message})")
                timings, switches = [], []
                for _ in range(args.samples):
                    median, _worst = time_page(page, f"{app.url}/trainings", "bench", repeats=1)
                    timings.append(median)
                for _ in range(args.samples):  # a user already in the app: switch pages in the sidebar
                    page.get_by_role("link", name="Projects").click()
                    page.get_by_text("Open project").first.wait_for()
                    start = time.perf_counter()
                    page.get_by_role("link", name="Trainings").click()
                    page.get_by_text("Details of").first.wait_for()
                    switches.append(time.perf_counter() - start)
                server = _script_runs(data, project.id, args.samples)
                with session_scope(engine) as s:
                    t = repo.get_training(s, training.id)
                print(f"training status after measuring: {t.status} ({t.progress:.0%})")
                browser.close()
        finally:
            stop_app(app)
    for name, values in (("full page load (new browser session)", timings),
                         ("switch to the page inside the app", switches),
                         ("server side: one run of the page script", server)):
        values.sort()
        print(f"Trainings page during training, {name}, {len(values)} samples: "
              f"median {values[len(values) // 2]:.2f} s, worst {values[-1]:.2f} s (target < 1 s)")


if __name__ == "__main__":
    main()
