"""A tiny classification project for the journey's tests: 40 x 40 grey cells, "bright" ones with a bright
square and "dark" ones without, each image given its class; one ROI carrying a class (its crop is one more
example); a step-bound classification training queued on it and run as the worker runs it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from core.config import Settings
from core.db import repo, session_scope
from core.db.models import RUNNING, Shape
from core.jobs.context import JobContext
from core.projects import create_project, import_files
from core.trainings import WizardChoices, queue_training

#: a step-bound run (as "run again with the same steps" makes one): tests never depend on the clock
STEPS = {"max_steps": 40, "steps_per_epoch": 10, "batch_size": 8, "learning_rate": 0.003}


@dataclass
class ClassProject:
    project_id: int
    bright: int  # label ids
    dark: int
    images: dict[str, int]  # name -> image id


def cell(seed: int, bright: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(20, 60, size=(40, 40)).astype(np.uint8)
    if bright:
        pixels[10:30, 10:30] = rng.integers(180, 240, size=(20, 20))
    return pixels


def class_project(settings: Settings, engine, tmp: Path, *, n_per_class: int = 6, name: str = "Cells",
                  mislabelled: bool = True) -> ClassProject:
    """``n_per_class`` images of each class (``b<k>.png`` bright, ``d<k>.png`` dark), plus, when
    ``mislabelled``, ``wrong.png``: a bright cell given the class "dark" (so that validation has a
    misclassified example), and an ROI of class "bright" on ``d0.png`` around a bright patch painted there."""
    project = create_project(settings, engine, name)
    with session_scope(engine) as s:
        bright = repo.add_label(s, project.id, "bright", "#e6194b")
        dark = repo.add_label(s, project.id, "dark", "#3cb44b")
    files, classes = [], {}
    for k in range(n_per_class):
        for prefix, is_bright, label in (("b", True, bright.id), ("d", False, dark.id)):
            pixels = cell(100 * is_bright + k, is_bright)
            if prefix == "d" and k == 0:
                pixels = np.pad(pixels, ((0, 0), (0, 40)), constant_values=30)
                pixels[10:30, 50:70] = 220  # the ROI's bright patch, right of the dark cell
            path = tmp / f"{prefix}{k}.png"
            PILImage.fromarray(pixels).save(path)
            files.append((path.name, path))
            classes[path.name] = label
    if mislabelled:
        path = tmp / "wrong.png"
        PILImage.fromarray(cell(999, True)).save(path)
        files.append((path.name, path))
        classes[path.name] = dark.id
    report = import_files(settings, engine, project.id, files)
    assert not report.errors, report.errors
    ids = {im.name: im.id for im in report.imported}
    with session_scope(engine) as s:
        for image_name, label in classes.items():
            repo.set_image_class(s, ids[image_name], label)
        s.add(Shape(image_id=ids["d0.png"], label_id=bright.id, kind="roi", geometry="rectangle",
                    points=[[48, 8], [72, 8], [72, 32], [48, 32]]))
        s.commit()
    return ClassProject(project.id, bright.id, dark.id, ids)


def queue_class_training(settings: Settings, engine, cp: ClassProject, *, manual: bool = True,
                         name: str = "cells run"):
    """Queue a step-bound classification training: manual split (validation: b4, b5, d4, d5 and wrong.png)
    or the random split stratified by class."""
    ids = cp.images
    val = [ids[n] for n in ("b4.png", "b5.png", "d4.png", "d5.png", "wrong.png") if n in ids]
    train = [i for i in ids.values() if i not in val]
    choices = WizardChoices(project_id=cp.project_id, training_type="classification",
                            label_ids=[cp.bright, cp.dark], split_mode="manual" if manual else "random",
                            image_ids=list(ids.values()), train_ids=train if manual else [],
                            val_ids=val if manual else [], name=name)
    return queue_training(settings, engine, choices, repeat={"of": 0, **STEPS})


def run_job(settings: Settings, engine, training_id: int) -> dict:
    """The training job as the worker's child runs it (the row marked running first)."""
    from core.training.job import run_training_job

    with session_scope(engine) as s:
        repo.update_training(s, training_id, status=RUNNING)
    ctx = JobContext(settings, engine, "training", training_id)
    result = ctx.run(run_training_job)
    with session_scope(engine) as s:
        repo.update_training(s, training_id, status="succeeded", progress=1.0)
    return result
