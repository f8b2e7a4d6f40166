from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import QUEUED, RUNNING, SUCCEEDED, EpochMetric, Training, utcnow
from core.demo import create_demo_project
from core.trainings import WizardChoices
from tests.app.charts import chart_of

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _open(project_id: int, detail: int | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project_id
    if detail is not None:
        at.session_state["training_detail"] = detail
    at.switch_page("pages/trainings.py")
    return at.run()


def test_trainings_list_detail_cancel_and_rerun(app_env):
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        label = repo.list_labels(s, project.id)[0]
    wizard = WizardChoices(project_id=project.id, training_type="instance", label_ids=[label.id],
                           image_ids=[im.id for im in images], name="done one").to_dict()
    with session_scope(engine) as s:
        done = repo.add_training(s, Training(
            project_id=project.id, name="done one", status=SUCCEEDED, config={"wizard": wizard, "budget_seconds": 60},
            started_at=utcnow(), finished_at=utcnow(), progress=1.0,
            metrics={"overall": {"f1": 0.8771}, "per_label": [{"label": "nucleus", "f1": 0.8771}]}))
        for epoch in (1, 2, 3):
            repo.add_epoch_metric(s, EpochMetric(training_id=done.id, epoch=epoch, step=40 * epoch,
                                                 train_loss=1 / epoch,
                                                 val_loss=1.2 / epoch, train_iou=0.2 * epoch, val_iou=0.18 * epoch))
        running = repo.add_training(s, Training(project_id=project.id, name="running one", status=RUNNING,
                                                config={"budget_seconds": 300}, progress=0.4, epoch=3,
                                                eta_seconds=120, started_at=utcnow(), message="training"))
        queued = repo.add_training(s, Training(project_id=project.id, name="queued one", status=QUEUED,
                                               config={"budget_seconds": 300}))
    at = _open(project.id)
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "Position 1 in the queue" in captions and "F1@0.5 0.877" in captions
    assert "120 steps" in captions  # steps done: a time-bound run does as many as fit
    assert at.get("progress")  # the running one shows a progress bar

    report = app_env.training_dir(done.id) / "report.zip"
    report.parent.mkdir(parents=True)
    report.write_bytes(b"PK\x05\x06" + bytes(18))
    with session_scope(engine) as s:
        repo.update_training(s, done.id, report_path=str(report.relative_to(app_env.data_dir)))

    at = _open(project.id, detail=done.id)
    assert not at.exception, at.exception
    assert at.get("vega_lite_chart"), "the curves are shown"
    download = next(b for b in at.get("download_button") if b.key == "download_report")
    # a download must not rerun the page: the rerun can retire the file's id before the browser asks for it
    assert download.proto.ignore_rerun and download.proto.deferred_file_id
    assert at.dataframe, "the metrics per label are shown"
    next(b for b in at.button if b.key == "rerun_training").click().run()
    assert not at.exception
    # without a model recording its steps, only the time-bound way is offered
    [only] = at.radio(key="rerun_way").options
    assert only.startswith("The same training time")
    next(b for b in at.button if b.key == "rerun_training_go").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        names = [t.name for t in repo.list_trainings(s, project.id)]
    assert "done one (run 2)" in names

    at = _open(project.id, detail=running.id)
    next(b for b in at.button if b.key == "cancel_training").click().run()
    with session_scope(engine) as s:
        assert repo.get_training(s, running.id).cancel_requested
    at = _open(project.id, detail=queued.id)
    next(b for b in at.button if b.key == "cancel_training").click().run()
    with session_scope(engine) as s:
        assert repo.get_training(s, queued.id).status == "cancelled"


def test_delete_removes_the_training_and_its_files(app_env):
    from core.trainings import delete_training

    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    with session_scope(engine) as s:
        t = repo.add_training(s, Training(project_id=project.id, name="old", status=SUCCEEDED, config={}))
    folder = app_env.training_dir(t.id)
    folder.mkdir(parents=True)
    (folder / "report.zip").write_bytes(b"x")
    at = _open(project.id, detail=t.id)
    next(b for b in at.button if b.key == "delete_training").click().run()
    next(b for b in at.button if b.key == "delete_training_yes").click().run()
    assert not at.exception
    with session_scope(engine) as s:
        assert repo.list_trainings(s, project.id) == []
    assert not folder.exists()
    with session_scope(engine) as s:
        running = repo.add_training(s, Training(project_id=project.id, name="busy", status=RUNNING, config={}))
    import pytest

    from core.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="cancel it before deleting"):
        delete_training(app_env, engine, running.id)


def test_the_curves_mark_the_kept_model_with_the_tables_numbers(app_env):
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    row = {"label": "nucleus", "pixel_iou": 0.7902, "pixel_accuracy": 0.99380, "n_gt": 22, "f1": 0.6111}
    with session_scope(engine) as s:
        t = repo.add_training(s, Training(
            project_id=project.id, name="kept", status=SUCCEEDED, config={}, progress=1.0,
            metrics={"overall": {"accuracy": 0.99380, "iou": 0.7902, "f1": 0.6111}, "per_label": [row],
                     "kept": {"epoch": 2, "weight_average": False}}))
        for epoch, acc in ((1, 0.5995), (2, 0.9665), (3, 0.18)):  # the network output at 0.5, per epoch
            repo.add_epoch_metric(s, EpochMetric(training_id=t.id, epoch=epoch, val_accuracy=acc,
                                                 val_iou=0.4))
    at = _open(project.id, detail=t.id)
    assert not at.exception, at.exception
    _, points = chart_of(at)
    kept = {p["chart"]: p for p in points if p["mark"] == "kept"}
    accuracy = kept["Accuracy"]  # the middle plot: pixel accuracy
    assert (accuracy["epoch"], accuracy["value"]) == (2, 0.9938) and set(kept) == {"Accuracy", "IoU"}
    tables = [d.value for d in at.dataframe]
    pixel = tables[0]
    assert list(pixel.columns) == ["Label", "Pixel accuracy", "IoU"]  # readable names, no raw keys
    assert pixel["Pixel accuracy"][0] == 0.994 and round(accuracy["value"], 3) == 0.994
    assert "F1@0.5" in tables[1].columns and "n_gt" not in tables[1].columns


def test_run_again_offers_an_exact_repeat_and_small_validation_sets_are_warned_about(app_env):
    import torch

    from core.training.models import build_model
    from core.training.package import write_package

    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        label = repo.list_labels(s, project.id)[0]
    ids = [im.id for im in images]
    wizard = WizardChoices(project_id=project.id, training_type="semantic", label_ids=[label.id],
                           split_mode="manual", train_ids=ids[:-1], val_ids=ids[-1:], name="Nuclei",
                           seed=4).to_dict()
    package = app_env.training_dir(1) / "model"
    torch.manual_seed(0)
    card = {"encoder": "resnet18-compact", "in_channels": images[0].channels, "out_channels": 1,
            "training_type": "semantic", "labels": [{"id": label.id, "name": "nucleus", "color": "#3cb44b"}],
            "distance_head": False, "training": {"steps": 37, "epochs": 3, "batch_size": 4,
                                                 "learning_rate": 0.002, "seconds": 10.0},
            "normalization": {"method": "percentile", "low": [0.0] * images[0].channels,
                              "high": [255.0] * images[0].channels}}
    write_package(package, build_model("resnet18-compact", images[0].channels, 1), card, trace_size=64)
    with session_scope(engine) as s:
        done = repo.add_training(s, Training(
            project_id=project.id, name="Nuclei", status=SUCCEEDED, split={"train": ids[:-1], "val": ids[-1:]},
            config={"wizard": wizard, "budget_seconds": 60, "train_config": {"labels": [
                {"id": label.id, "name": "nucleus", "color": "#3cb44b"}]}},
            model_dir=package.relative_to(app_env.data_dir).as_posix(), started_at=utcnow(),
            finished_at=utcnow(), progress=1.0))
    assert done.id == 1
    at = _open(project.id, detail=done.id)
    assert not at.exception, at.exception
    assert any("validation set is small (1 image with" in w.value for w in at.warning)
    next(b for b in at.button if b.key == "rerun_training").click().run()
    time_way, steps_way = at.radio(key="rerun_way").options
    assert time_way.startswith("The same training time") and "exact repeat" in steps_way
    at.radio(key="rerun_way").set_value("steps").run()
    next(b for b in at.button if b.key == "rerun_training_go").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        again = max(repo.list_trainings(s, project.id), key=lambda t: t.id)
    assert again.name == "Nuclei (run 2)"
    cfg = again.config["train_config"]
    assert (cfg["max_steps"], cfg["seed"], cfg["batch_size"], cfg["learning_rate"]) == (37, 4, 4, 0.002)


def test_a_finished_training_offers_its_model_for_bioimage_io(app_env):
    from tests.models_helpers import trained_model

    engine = make_engine(app_env.database_url)
    with session_scope(engine) as s:
        project = repo.create_project(s, "Nuclei")
    done = trained_model(app_env, engine, project.id, "nuclei v1")
    at = _open(project.id, detail=done.id)
    assert not at.exception, at.exception
    button = next(b for b in at.get("download_button") if b.key == "download_bioimageio")
    assert button.proto.label == "Download for bioimage.io (ZIP)"
    assert button.proto.deferred_file_id and button.proto.ignore_rerun  # made when clicked, no rerun
