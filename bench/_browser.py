"""Shared by the UI benchmarks: a real `streamlit run` and Debian's Chromium, timing pages as a user sees them."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app  # noqa: E402

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "REPO", "start_app", "stop_app", "time_page"]


def time_page(page, url: str, ready_text: str, *, repeats: int = 3) -> tuple[float, float]:  # noqa: ANN001
    """Seconds from navigation to ``ready_text`` being visible: (median, worst) over ``repeats`` loads."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        page.goto(url)
        page.get_by_text(ready_text).first.wait_for(timeout=60_000)
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)
