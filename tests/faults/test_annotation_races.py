"""Annotations are never lost or doubled: simultaneous saves from two real processes, repeated mask imports,
images of the same name from different folders, and a mask file that declares a huge image.
"""

from __future__ import annotations

import multiprocessing
import queue
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from core.cli import main
from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import Image
from core.errors import AnnotationError

from .conftest import assert_sound

REPO = Path(__file__).resolve().parents[2]
TRIALS = 50


# --- two processes save the same image from the same version ---------------------------------------------------

def _polygon(label_id: int, worker: int, trial: int) -> dict:
    x, y = 10.0 * worker, float(trial % 40)
    return {"label_id": label_id, "kind": "annotation", "geometry": "polygon",
            "points": [[x, y], [x + 5, y], [x + 5, y + 5], [x, y + 5]], "source": "manual"}


def _saver(database_url: str, worker: int, image_id: int, label_id: int, tasks, results, barrier) -> None:
    """One editor in its own process: for each version it is sent, wait for the other editor, then save."""
    engine = make_engine(database_url, create_tables=False)
    while (task := tasks.get()) is not None:
        trial, version = task
        record = _polygon(label_id, worker, trial)
        barrier.wait(timeout=60)
        try:
            with session_scope(engine) as session:
                repo.replace_shapes(session, image_id, [record], expected_version=version)
        except AnnotationError as exc:
            results.put((trial, worker, "refused", str(exc)))
        else:
            results.put((trial, worker, "saved", record["points"]))
    engine.dispose()


def test_two_processes_saving_the_same_version_one_is_refused(settings: Settings):
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        project = repo.create_project(s, "P")
        label = repo.add_label(s, project.id, "cell")
        image = repo.add_image(s, Image(project_id=project.id, name="a.tif", stored_path="x/a.tif", width=64,
                                        height=64, channels=1, dtype="uint8", content_hash="h"))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    tasks = [ctx.Queue(), ctx.Queue()]
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_saver, args=(settings.database_url, w, image.id, label.id, tasks[w], results, barrier))
        for w in (0, 1)
    ]
    for proc in workers:
        proc.start()
    try:
        for trial in range(TRIALS):
            with session_scope(engine) as s:  # both editors loaded this version
                version = repo.replace_shapes(s, image.id, []).updated_at
            for task_queue in tasks:
                task_queue.put((trial, version))
            outcome = sorted((results.get(timeout=60) for _ in range(2)), key=lambda r: r[2])
            kinds = [r[2] for r in outcome]
            assert kinds == ["refused", "saved"], f"trial {trial}: {outcome}"
            assert "Reload the image" in outcome[0][3]
            with session_scope(engine) as s:
                stored = [sh.points for sh in repo.list_shapes(s, image.id)]
            assert stored == [outcome[1][3]], f"trial {trial}: the stored shapes are not the accepted save's"
    finally:
        for task_queue in tasks:
            task_queue.put(None)
        for proc in workers:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    assert all(proc.exitcode == 0 for proc in workers)
    engine.dispose()
    assert_sound(settings)
