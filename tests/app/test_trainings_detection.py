"""The Trainings page of a detection training: its own curves (loss, mAP@0.5, F1) with the kept model marked,
its headline mAP@0.5, the box scores per label and per image, and its validation pictures."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from tests.app.charts import chart_of, panel_titles
from tests.training.box_synth import stored_detection_training

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_a_detection_training_shows_its_curves_box_scores_and_pictures(app_env):
    engine = make_engine(app_env.database_url)
    stored = stored_detection_training(app_env, engine)
    with session_scope(engine) as s:
        training = repo.get_training(s, stored.training_id)
        epochs = repo.epoch_records(s, training.id)
    overall = training.metrics["overall"]

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = training.project_id
    at.session_state["training_detail"] = training.id
    at.switch_page("pages/trainings.py")
    at.run()
    assert not at.exception, at.exception

    captions = " ".join(c.value for c in at.caption)
    assert f"mAP@0.5 {overall['map_50']:.3f}" in captions  # the list leads with the type's headline

    spec, points = chart_of(at)
    assert panel_titles(spec) == ["Loss", "mAP@0.5", "Precision", "Recall"]
    val_map = [p for p in points if p["chart"] == "mAP@0.5" and p["series"].startswith("validation")]
    assert len(val_map) == len(epochs)  # the epochs' mAP@0.5 came from the database's scores column
    kept = {p["chart"]: p for p in points if p["mark"] == "kept"}
    star = kept["mAP@0.5"]
    assert star["value"] == overall["map_50"] and star["epoch"] == training.metrics["kept"]["epoch"]
    assert "Loss" not in kept  # no kept score on the loss

    metric_labels = [m.label for m in at.metric]
    assert "mAP@0.5" in metric_labels and "mAP@0.5:0.95" in metric_labels
    per_label = at.dataframe[0].value
    assert list(per_label["Label"]) == ["bright", "dim"]
    assert {"AP@0.5", "AP@0.75", "AP@0.5:0.95", "Precision", "Recall", "F1@0.5", "True boxes",
            "Predicted boxes"} <= set(per_label.columns)
    assert not any(c in per_label.columns for c in ("IoU", "Pixel accuracy"))  # no pixel scores
    rows = {r["label"]: r for r in training.metrics["per_label"]}
    assert per_label["AP@0.5"][0] == round(rows["bright"]["ap_50"], 3)
    per_image = at.dataframe[1].value
    assert {"Image", "Label", "True boxes", "Predicted boxes"} <= set(per_image.columns)
    assert len(per_image) == 2 * 2  # two validation images, two labels
    assert any(e.label == "True and predicted boxes per validation image" for e in at.expander)
    pictures = at.get("image")
    assert len(pictures) == 2, "each validation picture is shown"
    assert sorted(p.captions[0] for p in pictures) == ["sq3", "sq4"]
