"""What a training's folder keeps: after success, only what the report, the Trainings page and the model
use."""

from __future__ import annotations

import torch

from core.db import repo, session_scope
from core.db.models import SUCCEEDED
from core.demo import create_demo_project
from core.jobs import child, queue
from core.training.checkpoint import BEST, LAST
from core.trainings import WizardChoices, queue_training


def test_a_succeeded_training_keeps_no_checkpoints(settings, engine):
    torch.set_num_threads(1)
    project = create_demo_project(settings, engine)
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        label = repo.list_labels(s, project.id)[0]
    training = queue_training(settings, engine, WizardChoices(
        project_id=project.id, training_type="semantic", label_ids=[label.id],
        image_ids=[im.id for im in images], duration="4", name="lean"))
    assert queue.claim(engine, "training", training.id, queue.worker_identity())
    assert child.run("training", training.id, settings=settings) == 0
    with session_scope(engine) as s:
        done = repo.get_training(s, training.id)
    assert done.status == SUCCEEDED, done.error
    folder = settings.training_dir(training.id)
    kept = {p.name for p in folder.iterdir()}
    assert kept == {"model", "report.zip", "dataset.json", "metrics.json", "validation_visualizations"}
    assert LAST not in kept and BEST not in kept
    assert {p.name for p in (folder / "model").iterdir()} == {"weights.pt", "model_card.json",
                                                               "model.torchscript.pt"}
