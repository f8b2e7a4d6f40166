"""Page loads while a training runs (target: under 2 s for every page), in a real Chromium.

    python bench/ui_load.py [--seconds 600] [--repeats 3]

Starts `streamlit run app.py` on a fresh data directory with its embedded worker, creates the demo project and a
small model package (so that Apply shows its model), queues a real training and, once it trains, opens every
page as a user's browser does (its first visit since the server started, a new tab, a sidebar click, a reload)
and in a fresh browser profile each time (nothing cached: a browser's first visit ever). A
load is timed from navigation to the page's own content being visible; the annotator from navigation to its
canvas having drawn the image. A one-line Streamlit app, timed the same ways, is the floor. Prints a table
and the CPU model (from lscpu).
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

PAGES = {  # URL path -> (the sidebar's link, text that appears with the page's own content)
    "": ("Home", "Project: Demo"),
    "projects": ("Projects", "Open project"),
    "annotate": ("Annotate", "Keyboard shortcuts"),
    "wizard": ("Train", "Step 1 of 9"),
    "trainings": ("Trainings", "Details of"),
    "compare": ("Compare", "Trainings of every project"),
    "models": ("Models", "A trained model's name is its training's name"),
    "apply": ("Apply", "Images of"),
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


def _goto(page, url: str, ready: str) -> float:  # noqa: ANN001
    """Seconds from opening ``url`` in ``page`` to ``ready`` visible."""
    start = time.perf_counter()
    page.goto(url)
    page.get_by_text(ready).first.wait_for(timeout=120_000)
    return time.perf_counter() - start


def _open(context, url: str, ready: str) -> float:  # noqa: ANN001
    """Seconds to ``ready`` in a new tab of a browser that has shown the app before (a bookmark or a link
    opened in a user's browser: its JavaScript cached, a new Streamlit session)."""
    page = context.new_page()
    try:
        return _goto(page, url, ready)
    finally:
        page.close()


def _load(browser, url: str, ready: str) -> float:  # noqa: ANN001
    """Seconds to ``ready`` in a new browser session (a new tab in a fresh browser profile: no cached
    JavaScript, a new Streamlit session)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        return _open(context, url, ready)
    finally:
        context.close()


def _click(page, link: str, ready: str, previous: str) -> float:  # noqa: ANN001
    """Seconds from a click on the sidebar's ``link`` to ``ready`` visible, in a tab already showing the app
    (what a user does all day). The previous page's text must be gone first, so that its own content is not
    taken for the new page's."""
    start = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link, exact=True).click()
    if previous != ready:
        page.get_by_text(previous).first.wait_for(state="detached", timeout=120_000)
    page.get_by_text(ready).first.wait_for(timeout=120_000)
    return time.perf_counter() - start


def _reload(page, url: str, ready: str) -> float:  # noqa: ANN001
    """Seconds from opening ``url`` in a tab that has shown the app before (its JavaScript cached, as a reload
    or a bookmark in a user's browser) to ``ready`` visible; a new Streamlit session."""
    return _goto(page, url, ready)


PEER_TEXT = "A one-line Streamlit app"
CANVAS = 'canvas[data-testid="annotator-canvas"]'
CANVAS_READY = f"""() => {{ const c = document.querySelector('{CANVAS}')
    || [...document.querySelectorAll('*')].map(e => e.shadowRoot && e.shadowRoot.querySelector('{CANVAS}'))
       .find(Boolean);
    return c && c.dataset.ready === '1'; }}"""


def _canvas_ready(page, start: float) -> float:  # noqa: ANN001
    """Seconds from ``start`` to the annotator's canvas having drawn the image."""
    page.wait_for_function(CANVAS_READY, timeout=120_000, polling=20)
    return time.perf_counter() - start


def _peer_loads(browser, tmp: Path, repeats: int) -> tuple[list[float], list[float], list[float]]:  # noqa: ANN001
    """The floor under every page: a one-line Streamlit app served the same way, timed the same way (fresh
    browser, new tab, reload), on the same machine while the same training runs."""
    script = tmp / "peer_app.py"
    script.write_text(f"import streamlit as st\n\nst.write({PEER_TEXT!r})\n", encoding="utf-8")
    peer = start_app(tmp / "peer_data", tmp / "peer.log", script=script)
    try:
        new_tab = [_load(browser, peer.url, PEER_TEXT) for _ in range(repeats)]
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.goto(peer.url)
        tab.get_by_text(PEER_TEXT).first.wait_for(timeout=120_000)
        reloads = [_reload(tab, peer.url, PEER_TEXT) for _ in range(repeats)]
        same_browser = [_open(context, peer.url, PEER_TEXT) for _ in range(repeats)]
        context.close()
        return new_tab, same_browser, reloads
    finally:
        stop_app(peer)


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
                # A user's browser: it opens the app (home: the first visit after the start starts the embedded
                # worker, timed before the training has started), then each page for the first time since the
                # server started (its Python and its JavaScript not loaded yet), during the training.
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                home_first = _open(context, app.url, PAGES[""][1])
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    with session_scope(engine) as s:
                        t = repo.get_training(s, training.id)
                    if t.status == "running" and t.progress > 0.02:
                        break
                    time.sleep(1)
                print(f"training while measuring: {t.status} ({t.progress:.0%}, {t.message})")
                rows = []
                for path, (_, ready) in PAGES.items():
                    first = home_first if not path else _open(context, f"{app.url}/{path}", ready)
                    again = [_load(browser, f"{app.url}/{path}", ready) for _ in range(args.repeats)]
                    rows.append([first, statistics.median(again), max(again)])
                # one tab of that browser, as a user works: sidebar clicks through every page, then a reload of each
                tab = context.new_page()
                tab.goto(app.url)
                tab.get_by_text(PAGES[""][1]).first.wait_for(timeout=120_000)
                clicks: dict[str, list[float]] = {path: [] for path in PAGES}
                canvas: dict[str, list[float]] = {"click": [], "reload": []}
                order = list(PAGES)
                for _ in range(args.repeats):
                    for path in order[1:] + order[:1]:
                        previous = PAGES[order[order.index(path) - 1]][1]
                        start = time.perf_counter()
                        clicks[path].append(_click(tab, PAGES[path][0], PAGES[path][1], previous))
                        if path == "annotate":
                            canvas["click"].append(_canvas_ready(tab, start))
                reloads: dict[str, list[float]] = {path: [] for path in PAGES}
                for path in PAGES:
                    for _ in range(args.repeats):
                        start = time.perf_counter()
                        reloads[path].append(_reload(tab, f"{app.url}/{path}", PAGES[path][1]))
                        if path == "annotate":
                            canvas["reload"].append(_canvas_ready(tab, start))
                opened = {path: [_open(context, f"{app.url}/{path}", PAGES[path][1]) for _ in range(args.repeats)]
                          for path in PAGES}
                context.close()
                peer = _peer_loads(browser, Path(tmp), args.repeats)
                for row, path in zip(rows, PAGES):
                    row += [statistics.median(opened[path]), max(opened[path]),
                            statistics.median(clicks[path]), max(clicks[path]),
                            statistics.median(reloads[path]), max(reloads[path])]
                with session_scope(engine) as s:
                    t = repo.get_training(s, training.id)
                print(f"training after measuring: {t.status} ({t.progress:.0%})")
                browser.close()
        finally:
            stop_app(app)
    print(f"\nCPU: {cpu_model()}")
    print("seconds to the page's own content, median / worst of the repeats. A user's browser: first = the "
          "page's first visit after the server started, in a new tab of a browser that has opened the app once "
          "(the page's Python and its own JavaScript not loaded yet; home's first visit is the browser's first); "
          "new tab = the page's URL opened in a new tab of that browser (its JavaScript cached; a new Streamlit "
          "session); click = the sidebar's link in an open tab; reload = the URL opened again in that tab. A "
          "fresh browser = a new browser profile each time (nothing cached: the first visit ever from a "
          "browser).")
    print(f"{'':<14}{'--- a user browser ---':^52}{'- a fresh browser -':^18}")
    print(f"{'page':<14}{'first':>10}{'new tab':>14}{'click':>14}{'reload':>14}{'each time':>18}   target < 2 s")
    for path, (first, median, worst, o_med, o_worst, c_med, c_worst, r_med, r_worst) in zip(PAGES, rows):
        name = f"/{path}" if path else "/ (home)"
        worst_by_mode = (("first", first), ("new tab", o_worst), ("click", c_worst), ("reload", r_worst))
        slow = [mode for mode, worst_s in worst_by_mode if worst_s >= 2]
        verdict = "ok" if not slow else "over 2 s: " + ", ".join(slow)
        print(f"{name:<14}{first:>10.2f}{o_med:>7.2f} /{o_worst:>5.2f}{c_med:>7.2f} /{c_worst:>5.2f}"
              f"{r_med:>7.2f} /{r_worst:>5.2f}{median:>11.2f} /{worst:>5.2f}   {verdict}")
    print("annotator canvas drawn: " + "; ".join(
        f"after a {how} {statistics.median(times):.2f} s (worst {max(times):.2f} s)"
        for how, times in canvas.items()) + "   target < 1 s")
    fresh, same_browser, reloads = peer
    print(f"{'peer':<14}{'':>10}{statistics.median(same_browser):>7.2f} /{max(same_browser):>5.2f}{'':>14}"
          f"{statistics.median(reloads):>7.2f} /{max(reloads):>5.2f}{statistics.median(fresh):>11.2f} /"
          f"{max(fresh):>5.2f}   (a one-line Streamlit app, the floor)")

if __name__ == "__main__":
    main()
