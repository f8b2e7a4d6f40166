"""CPU time of one run of each page's script (the app's frame and the page), as Streamlit's AppTest runs it.

    PYTHONPATH=. python bench/page_cpu.py [--repeats 5] [--profile annotate] [--top 25]

Complements ``bench/ui_load.py`` (a real browser, wall-clock): on a shared machine, wall-clock page loads
vary with the load of others, while the CPU time a page's script costs does not much. Only the script's own
thread is timed (AppTest's set-up and reading of the output are left out). The data are those of ui_load's:
the demo project, a small model package and trainings (one finished with its curves, one running), with the
embedded worker off. Each page is measured in a process of its own, as a server just started: the home page is
run once (it starts the frame's background imports, ui/warmup.py, which are let finish), then the page's
first visit (its own imports and caches cold) and ``--repeats`` more visits, each in a new session (as a new
browser tab: caches warm); the median and the smallest are printed. ``--profile PAGE`` prints the
functions that cost the most cumulative CPU time in one warm run of that page (``--first``: its first run).
``--cold``: each page is the first one the server runs (its first visit then also imports the app's frame).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
APP = str(REPO / "app.py")
PAGES = ["home", "projects", "annotate", "wizard", "trainings", "compare", "models", "apply"]


def _data(data_dir: Path) -> int:
    """The demo project, a model package and two trainings; returns the project's id."""
    import torch

    from core.config import Settings
    from core.db import repo, session_scope
    from core.db.engine import make_engine
    from core.db.models import RUNNING, SUCCEEDED, EpochMetric, Training, utcnow
    from core.demo import create_demo_project
    from core.predictions import MODELS_DIR
    from core.training.models import build_model
    from core.training.package import write_package
    from core.trainings import WizardChoices

    settings = Settings(data_dir=data_dir)
    engine = make_engine(settings.database_url)
    project = create_demo_project(settings, engine)
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        label = repo.list_labels(s, project.id)[0]
    channels = images[0].channels
    torch.manual_seed(0)
    card = {"encoder": "resnet18-compact", "in_channels": channels, "out_channels": 1,
            "training_type": "semantic", "labels": [{"id": 1, "name": "nucleus", "color": "#e6194b"}],
            "distance_head": False,
            "normalization": {"method": "percentile", "low": [0.0] * channels, "high": [255.0] * channels}}
    model = build_model("resnet18-compact", channels, 1)
    write_package(settings.data_dir / MODELS_DIR / "bench", model, card, trace_size=64)
    wizard = WizardChoices(project_id=project.id, training_type="instance", label_ids=[label.id],
                           image_ids=[im.id for im in images], name="done").to_dict()
    with session_scope(engine) as s:
        done = repo.add_training(s, Training(
            project_id=project.id, name="done", status=SUCCEEDED, progress=1.0, started_at=utcnow(),
            finished_at=utcnow(), config={"wizard": wizard, "budget_seconds": 60},
            metrics={"overall": {"f1": 0.8}, "per_label": [{"label": label.name, "f1": 0.8}]}))
        for epoch in range(1, 21):
            repo.add_epoch_metric(s, EpochMetric(training_id=done.id, epoch=epoch, step=40 * epoch,
                                                 train_loss=1 / epoch, val_loss=1.2 / epoch,
                                                 train_iou=0.04 * epoch, val_iou=0.035 * epoch))
        running = {"wizard": {**wizard, "name": "running"}, "budget_seconds": 600}
        repo.add_training(s, Training(project_id=project.id, name="running", status=RUNNING, progress=0.3,
                                      epoch=4, started_at=utcnow(), message="training", config=running))
    engine.dispose()
    return project.id  # type: ignore[return-value]


def _join_warmup() -> None:
    """Wait for the frame's background imports (ui/warmup.py): CPU time counts every thread of the process."""
    import threading

    for thread in threading.enumerate():
        if thread.name == "segstudio-warm-imports":
            thread.join()


def _run(page: str, project_id: int, profile: cProfile.Profile | None = None) -> float:
    """CPU seconds of one run of ``page`` in a new session: the script's own thread (AppTest's set-up and its
    reading of the output, which a real server does not do, are left out)."""
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
    from streamlit.testing.v1 import AppTest

    spent: list[float] = []
    original = ScriptRunner._run_script

    def timed(self, *args, **kwargs):
        start = time.thread_time()
        if profile is not None:
            profile.enable()
        try:
            return original(self, *args, **kwargs)
        finally:
            if profile is not None:
                profile.disable()
            spent.append(time.thread_time() - start)

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["project_id"] = project_id
    if page != "home":
        at.switch_page(f"pages/{page}.py")
    ScriptRunner._run_script = timed
    try:
        at.run()
    finally:
        ScriptRunner._run_script = original
    _join_warmup()
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception}")
    return sum(spent)


def _measure(page: str, project_id: int, repeats: int, profile_first: bool, top: int, cold: bool) -> dict:
    """In this (fresh) process: home once (unless ``cold``), then ``page`` first and ``repeats`` times
    more."""
    if not cold:
        _run("home", project_id)
    profile = cProfile.Profile() if profile_first else None
    first = _run(page, project_id, profile)
    again = [_run(page, project_id) for _ in range(repeats)]
    if top and profile is None:
        profile = cProfile.Profile()
        _run(page, project_id, profile)
    text = ""
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
        text = out.getvalue()
    return {"first": first, "again": again, "profile": text}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", choices=PAGES, help="print the costliest functions of one run of PAGE")
    parser.add_argument("--first", action="store_true", help="profile the page's first run, not a warm one")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--pages", nargs="*", choices=PAGES, default=PAGES)
    parser.add_argument("--cold", action="store_true",
                        help="each page is the server's first page (no home visit, no background imports)")
    parser.add_argument("--child", nargs=2, metavar=("PAGE", "PROJECT_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        page, project_id = args.child[0], int(args.child[1])
        top = args.top if args.profile == page else 0
        print(json.dumps(_measure(page, project_id, args.repeats, args.first and bool(top), top, args.cold)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "SEGSTUDIO_DATA": str(data), "SEGSTUDIO_EMBEDDED_WORKER": "0",
               "PYTHONPATH": str(REPO)}
        env.pop("SEGSTUDIO_DATABASE_URL", None)
        env.pop("SEGSTUDIO_PASSWORD_HASH", None)
        script = ("from pathlib import Path; from bench.page_cpu import _data; "
                  f"print(_data(Path({str(data)!r})))")
        made = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                              check=True, cwd=REPO)
        project_id = int(made.stdout.split()[-1])
        rows = []
        for page in args.pages:
            command = [sys.executable, __file__, "--child", page, str(project_id), "--repeats",
                       str(args.repeats), "--top", str(args.top)]
            command += ["--profile", args.profile] if args.profile else []
            command += (["--first"] if args.first else []) + (["--cold"] if args.cold else [])
            done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO)
            if done.returncode:
                raise RuntimeError(f"{page}:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if result["profile"]:
                print(result["profile"])
            rows.append((page, result["first"], statistics.median(result["again"]), min(result["again"])))
    print(f"{'page':<12}{'first (CPU s)':>14}{'repeat median':>15}{'repeat min':>12}")
    for page, first, median, least in rows:
        print(f"{page:<12}{first:>14.3f}{median:>15.3f}{least:>12.3f}")


if __name__ == "__main__":
    main()
