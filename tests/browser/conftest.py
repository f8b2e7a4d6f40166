"""A real `streamlit run app.py` on 127.0.0.1 and a real Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("SEGSTUDIO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningApp:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path


def start_app(data_dir: Path, log: Path, extra_env: dict[str, str] | None = None, *,
              script: Path | None = None) -> RunningApp:
    """``streamlit run`` of the app (or of another ``script``, e.g. a benchmark's peer) on a free port."""
    port = _free_port()
    env = {**os.environ, "SEGSTUDIO_DATA": str(data_dir), **(extra_env or {})}
    out = open(log, "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script or REPO / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return RunningApp(url, data_dir, process, log)
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"streamlit did not answer within 90 s:\n{log.read_text(errors='replace')}")


def stop_app(app: RunningApp) -> None:
    app.process.terminate()
    try:
        app.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait(timeout=20)


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        context.close()
        browser.close()


@pytest.fixture
def running_app(tmp_path: Path) -> Iterator[RunningApp]:
    app = start_app(tmp_path / "data", tmp_path / "streamlit.log", {"SEGSTUDIO_QUICK_SECONDS": "10"})
    yield app
    stop_app(app)


_SCRIPT_IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && ['notRunning', 'compilationError'].includes(app.getAttribute('data-test-script-state'));
}"""


def wait_for_idle(page) -> None:  # noqa: ANN001
    """Wait until Streamlit has finished re-running the script. The app's root says so in its script-state
    attribute (the running-man status widget is not shown with the app's minimal toolbar)."""
    page.wait_for_timeout(300)
    page.wait_for_function(_SCRIPT_IDLE, timeout=60_000)
    page.wait_for_timeout(200)


# The annotate page's canvas (ui/components/annotator) says on its element when its picture is drawn
# (data-ready) and which view it shows (data-x0, data-y0: the image point at its top-left corner; data-scale:
# screen pixels per image pixel). A test draws only once it is ready.
_VIEW = """c => ({ready: c.dataset.ready === '1', x0: Number(c.dataset.x0), y0: Number(c.dataset.y0),
                  scale: Number(c.dataset.scale)})"""


def canvas_view(page) -> dict:  # noqa: ANN001
    """``{"ready", "x0", "y0", "scale"}`` of the canvas now."""
    return page.locator('canvas[data-testid="annotator-canvas"]').evaluate(_VIEW)


def canvas_box(page) -> dict:  # noqa: ANN001
    """Where the image lies on the screen once the canvas is ready: ``x``, ``y`` (the screen point of image
    point (0, 0)), ``scale`` (screen pixels per image pixel) and the canvas element's ``left``, ``top``,
    ``width``, ``height``. Image point (u, v) is at ``(x + u * scale, y + v * scale)``."""
    canvas = page.locator('canvas[data-testid="annotator-canvas"]')
    for _ in range(240):
        if canvas.count() == 1 and canvas_view(page)["ready"]:
            break
        page.wait_for_timeout(250)
    else:
        raise AssertionError("the annotate canvas did not draw its picture within 60 s")
    canvas.evaluate("c => c.scrollIntoView({block: 'center'})")  # the mouse reaches only what is on screen
    page.wait_for_timeout(150)
    box, view = canvas.bounding_box(), canvas_view(page)
    return {"x": box["x"] - view["x0"] * view["scale"], "y": box["y"] - view["y0"] * view["scale"],
            "scale": view["scale"], "left": box["x"], "top": box["y"], "width": box["width"],
            "height": box["height"]}


def to_screen(box: dict, u: float, v: float) -> tuple[float, float]:
    """The screen point of image point (u, v) (``box`` from :func:`canvas_box`)."""
    return box["x"] + u * box["scale"], box["y"] + v * box["scale"]


def click_when_single(page, name: str) -> None:  # noqa: ANN001
    """Click the one enabled button called ``name`` (while Streamlit re-renders, a stale copy can linger)."""
    button = page.get_by_role("button", name=name, disabled=False)
    button.first.wait_for()
    for _ in range(40):
        if button.count() == 1:
            break
        page.wait_for_timeout(250)
    button.first.click()


def choose_first_option(page, key: str) -> None:  # noqa: ANN001
    """Open the multiselect whose key is ``key`` and pick its first option (a click that lands while Streamlit
    re-renders the widget can close the list again: then it is opened once more)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    wait_for_idle(page)
    for _ in range(6):
        page.locator(f".st-key-{key}").click()
        try:
            page.get_by_role("option").first.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            wait_for_idle(page)
    page.get_by_role("option").first.click()
    page.keyboard.press("Escape")
    wait_for_idle(page)


def wizard_next(page, to_step: int) -> None:  # noqa: ANN001
    click_when_single(page, "Next")
    page.get_by_text(f"Step {to_step} of 9").wait_for()
    wait_for_idle(page)


def open_demo_project(page, app: RunningApp):  # noqa: ANN001, ANN201
    """Home → *Create the demo project*; returns an engine on the app's database."""
    from core.db.engine import make_engine

    page.goto(app.url)
    page.get_by_role("button", name="Create the demo project").click()
    wait_for_idle(page)
    page.get_by_text("Created the demo project").wait_for()
    return make_engine(f"sqlite:///{app.data_dir / 'segstudio.db'}")
