"""core.trainings: run names, exact repeats (step-bound), mixed bit depths and the validation-size warning
in the wizard's rules."""

from __future__ import annotations

import torch

from core.db import repo, session_scope
from core.db.models import SUCCEEDED, Image
from core.demo import create_demo_project
from core.jobs import child, queue
from core.training.package import read_card
from core.training.split import validation_size_warning
from core.trainings import (
    WizardChoices,
    queue_training,
    rerun_training,
    run_name,
    step_notes,
    step_problems,
    training_validation_warning,
)


def _choices(project_id: int, label_id: int, image_ids: list[int], **kw) -> WizardChoices:
    return WizardChoices(project_id=project_id, training_type="semantic", label_ids=[label_id],
                         image_ids=image_ids, name="Nuclei", **kw)


def _demo(settings, engine):
    project = create_demo_project(settings, engine)
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        label = repo.list_labels(s, project.id)[0]
    return project, images, label


def test_runs_are_named_distinctly_within_the_project():
    assert run_name("Nuclei", ["Nuclei"]) == "Nuclei (run 2)"
    assert run_name("Nuclei (run 2)", ["Nuclei", "Nuclei (run 2)"]) == "Nuclei (run 3)"
    assert run_name("Nuclei", ["Nuclei", "Nuclei (run 2)", "Nuclei (run 3)"]) == "Nuclei (run 4)"
    assert run_name("Nuclei (again)", ["Nuclei (again)"]) == "Nuclei (run 2)"  # the old suffix


def test_validation_size_warning_says_when_scores_rest_on_too_little():
    assert "1 image with 12 annotated objects" in validation_size_warning(1, 12)
    assert "small" in validation_size_warning(3, 19) and "at least 2 images and 20 objects" in \
        validation_size_warning(3, 19)
    assert validation_size_warning(1, 200) is not None  # one image is one field of view
    assert validation_size_warning(2, 20) is None and validation_size_warning(5, None) is None


def test_the_wizard_accepts_mixed_bit_depths_and_says_what_is_done(settings, engine):
    project, images, label = _demo(settings, engine)
    with session_scope(engine) as s:
        row = s.get(Image, images[0].id)
        row.dtype = "uint16" if row.dtype != "uint16" else "uint8"
        s.add(row)
        s.commit()
    choices = _choices(project.id, label.id, [im.id for im in images])
    assert step_problems(settings, engine, choices, "images") == []  # it used to refuse: "one bit depth"
    notes = dict(step_notes(settings, engine, choices, "images"))
    assert "different bit depths" in notes["info"] and "own percentiles" in notes["info"]
    assert step_problems(settings, engine, choices, "review") == []
    queue_training(settings, engine, choices)


def test_a_small_validation_set_is_warned_about_in_the_wizard_and_for_the_training(settings, engine):
    project, images, label = _demo(settings, engine)
    ids = [im.id for im in images]
    manual = _choices(project.id, label.id, [], split_mode="manual", train_ids=ids[:-1], val_ids=ids[-1:])
    assert step_problems(settings, engine, manual, "images") == []
    kinds = dict(step_notes(settings, engine, manual, "review"))
    assert "validation set is small (1 image with" in kinds["warning"]
    training = queue_training(settings, engine, manual)
    assert "validation set is small (1 image" in training_validation_warning(settings, engine, training)
    many = _choices(project.id, label.id, [], split_mode="manual", train_ids=ids[:3], val_ids=ids[3:])
    with session_scope(engine) as s:
        objects = sum(repo.annotation_summary(s, project.id)[i].get(label.id, 0) for i in ids[3:])
    assert objects >= 20
    assert "warning" not in dict(step_notes(settings, engine, many, "review"))


def test_run_again_with_the_same_steps_trains_exactly_as_many_steps(settings, engine):
    """A time-bound run does as many steps as fit; the exact repeat trains the recorded number, with the
    same seed, batch size and learning rate, and is named distinctly."""
    torch.set_num_threads(1)
    project, images, label = _demo(settings, engine)
    first = queue_training(settings, engine, _choices(project.id, label.id, [im.id for im in images],
                                                      duration="4", seed=3))
    with session_scope(engine) as s:  # a few steps for sure (4 s on a busy machine may leave none)
        row = repo.get_training(s, first.id)
        row.config = {**row.config, "train_config": {**row.config["train_config"], "max_steps": 3}}
        s.add(row)
        s.commit()
    assert queue.claim(engine, "training", first.id, queue.worker_identity())
    assert child.run("training", first.id, settings=settings) == 0
    with session_scope(engine) as s:
        done = repo.get_training(s, first.id)
        steps = repo.steps_by_training(s, [first.id])[first.id]
    assert done.status == SUCCEEDED, done.error
    card = read_card(settings.data_dir / done.model_dir)
    assert card["training"]["steps"] == steps == 3

    again = rerun_training(settings, engine, first.id, same_steps=True)
    assert again.name == "Nuclei (run 2)"
    cfg = again.config["train_config"]
    assert cfg["max_steps"] == steps and cfg["seed"] == 3
    assert cfg["batch_size"] == card["training"]["batch_size"]
    assert cfg["learning_rate"] == card["training"]["learning_rate"]
    assert cfg["steps_per_epoch"] * card["training"]["epochs"] >= steps
    assert queue.claim(engine, "training", again.id, queue.worker_identity())
    assert child.run("training", again.id, settings=settings) == 0
    with session_scope(engine) as s:
        repeated = repo.get_training(s, again.id)
    assert repeated.status == SUCCEEDED, repeated.error
    assert read_card(settings.data_dir / repeated.model_dir)["training"]["steps"] == steps

    plain = rerun_training(settings, engine, first.id)
    assert plain.name == "Nuclei (run 3)" and plain.config["train_config"]["max_steps"] is None


def _run_two_steps(settings, engine, training_id: int):
    """Run the queued training ``training_id`` for two steps in this process (as the worker's child would);
    returns its row afterwards."""
    with session_scope(engine) as s:
        row = repo.get_training(s, training_id)
        row.config = {**row.config, "train_config": {**row.config["train_config"], "max_steps": 2}}
        s.add(row)
        s.commit()
    assert queue.claim(engine, "training", training_id, queue.worker_identity())
    assert child.run("training", training_id, settings=settings) == 0
    with session_scope(engine) as s:
        return repo.get_training(s, training_id)


def test_a_training_fine_tuned_from_an_earlier_one_names_its_start_in_card_and_report(settings, engine):
    """Train again from this model: the job loads the earlier package, the new card records the start
    (name, key, weights hash, what was kept) and the report's methods say it."""
    import hashlib
    import io
    import zipfile

    from pypdf import PdfReader

    from core.model_starts import train_again_choices
    from core.training.package import WEIGHTS

    torch.set_num_threads(1)
    project, images, label = _demo(settings, engine)
    first = queue_training(settings, engine, _choices(project.id, label.id, [im.id for im in images[:4]],
                                                      duration="4"))
    done = _run_two_steps(settings, engine, first.id)
    assert done.status == SUCCEEDED, done.error

    choices = train_again_choices(settings, engine, first.id)
    assert sorted(choices.image_ids) == sorted(im.id for im in images)  # the images annotated now
    again = queue_training(settings, engine, choices)
    tuned = _run_two_steps(settings, engine, again.id)
    assert tuned.status == SUCCEEDED, tuned.error
    card = read_card(settings.data_dir / tuned.model_dir)
    weights = (settings.data_dir / done.model_dir / WEIGHTS).read_bytes()
    assert card["start"]["key"] == f"training:{first.id}" and card["start"]["name"] == "Nuclei (Demo: fluorescent nuclei)"
    assert card["start"]["sha256"] == hashlib.sha256(weights).hexdigest()
    assert card["start"]["kept"][-1] == "the output of the model's 'nucleus' for 'nucleus'"
    with zipfile.ZipFile(settings.data_dir / tuned.report_path) as report:
        pdf = PdfReader(io.BytesIO(report.read("report.pdf")))
    text = " ".join(" ".join(page.extract_text().split()) for page in pdf.pages)
    assert "randomly initialised" not in text and "initialised from the trained model 'Nuclei (Demo: fluorescent nuclei)'" in text
    assert ("Training started from the weights of the model 'Nuclei (Demo: fluorescent nuclei)' "
            f"(training:{first.id}, trained for semantic segmentation of nucleus") in text
    assert "starting model sha256" in text.lower()
