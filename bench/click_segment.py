"""Click-to-segment latency: seconds per click, cold (model or forest loaded, image record made) and warm.

A temporary project with a 2048 x 2048 image of synthetic nuclei, a succeeded training per encoder (a registry
U-Net whose head is fitted in closed form: the network's cost is that of a real model) and, for the assistant,
a few brush strokes. Torch threads are left as the app leaves them. Run: ``python bench/click_segment.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from bench.cpu import cpu_name  # noqa: E402
from core.annotations.click_segment import WINDOW, propose_outline  # noqa: E402
from core.annotations.click_sources import clear_caches  # noqa: E402
from core.config import Settings  # noqa: E402
from core.db import repo, session_scope  # noqa: E402
from core.db.engine import make_engine  # noqa: E402
from tests.annotations.click_helpers import (  # noqa: E402
    add_training,
    card,
    fitted_unet,
    project_with_label,
    store_image,
)
from tests.inference.helpers import synthetic_cells  # noqa: E402

ENCODERS = ("mobilenet_v2", "resnet18-compact")
WARM_CLICKS = 5


def clicks(settings: Settings, engine, image_id: int, label_id: int,  # noqa: ANN001
           centres: list[tuple[int, int]]) -> tuple[float, float, str]:
    """(cold seconds, median warm seconds, the last message)."""
    clear_caches()
    times = []
    message = ""
    for cy, cx in centres[: WARM_CLICKS + 1]:
        start = time.perf_counter()
        proposal = propose_outline(settings, engine, image_id, cx + 0.5, cy + 0.5, label_id)
        times.append(time.perf_counter() - start)
        message = proposal.message
    return times[0], statistics.median(times[1:]), message


def main() -> None:
    print(f"CPU: {cpu_name()}; torch threads: {torch.get_num_threads()}; window {WINDOW} px")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        engine = make_engine(settings.database_url)
        image, labels = synthetic_cells((2048, 2048), seed=5)
        centres = []
        for share in (0.01, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95):  # objects spread over the image
            index = int(share * labels.max())
            ys, xs = (labels == index).nonzero()
            centres.append((int(ys.mean()), int(xs.mean())))
        for encoder in ENCODERS:
            pid, (nucleus,) = project_with_label(engine, name=f"bench {encoder}")
            image_id = store_image(settings, engine, pid, image, name=f"{encoder}.tif", tile=256)
            add_training(settings, engine, pid, encoder, fitted_unet("semantic", encoder=encoder),
                         card("semantic", [(nucleus, "nucleus")], encoder=encoder))
            cold, warm, message = clicks(settings, engine, image_id, nucleus, centres)
            print(f"model {encoder:17s} cold {cold:6.2f} s   warm {warm:6.2f} s per click   ({message})")
        pid, (nucleus,) = project_with_label(engine, name="bench assistant")
        image_id = store_image(settings, engine, pid, image, name="assistant.tif", tile=256)
        with session_scope(engine) as s:
            for cy, cx in centres[:3]:
                repo.add_scribble(s, image_id, [[cx - 3.0, cy], [cx + 3.0, cy]], width=3.0, label_id=nucleus)
            background = [[5.0, 5.0], [5.0, 2000.0], [2000.0, 2000.0]]
            repo.add_scribble(s, image_id, background, width=4.0, label_id=None)
        cold, warm, message = clicks(settings, engine, image_id, nucleus, centres[2:] + centres[:2])
        print(f"assistant forest        cold {cold:6.2f} s   warm {warm:6.2f} s per click   ({message})")
        engine.dispose()


if __name__ == "__main__":
    main()
