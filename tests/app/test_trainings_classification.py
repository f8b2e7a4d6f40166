"""The Trainings page of a finished classification training: its own curves (loss, accuracy, macro-F1) with
the kept model marked, its headline accuracy, the metrics (accuracy, balanced accuracy, macro-F1, top-2), the
per-class table, the confusion matrix, each validation example's prediction and the misclassified ones; then
the Compare and Models pages with it."""

from __future__ import annotations

from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from tests.app.charts import chart_of, panel_titles
from tests.training.class_synth import class_project, queue_class_training, run_job

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_a_classification_training_shows_its_curves_scores_and_confusion(app_env, tmp_path):
    torch.set_num_threads(1)
    engine = make_engine(app_env.database_url)
    cp = class_project(app_env, engine, tmp_path)
    run_job(app_env, engine, queue_class_training(app_env, engine, cp).id)
    with session_scope(engine) as s:
        [training] = repo.list_trainings(s, cp.project_id)
    metrics = training.metrics
    overall = metrics["overall"]

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = cp.project_id
    at.session_state["training_detail"] = training.id
    at.switch_page("pages/trainings.py")
    at.run()
    assert not at.exception, at.exception

    captions = " ".join(c.value for c in at.caption)
    assert f"Accuracy {overall['accuracy']:.3f}" in captions  # the list leads with the type's headline

    spec, points = chart_of(at)
    assert panel_titles(spec) == ["Loss", "Accuracy", "Macro-F1"]
    val_f1 = [p for p in points if p["chart"] == "Macro-F1" and p["series"].startswith("validation")]
    assert len(val_f1) == 4  # the epochs' macro-F1 from the scores column, none missing
    stars = {p["chart"]: p for p in points if p["mark"] == "kept"}
    assert set(stars) == {"Accuracy", "Macro-F1"}  # accuracy and macro-F1, not the loss
    assert stars["Macro-F1"]["value"] == overall["macro_f1"]

    shown = {m.label: m.value for m in at.metric}
    assert shown == {"Accuracy": f"{overall['accuracy']:.3f}",
                     "Balanced accuracy": f"{overall['balanced_accuracy']:.3f}",
                     "Macro-F1": f"{overall['macro_f1']:.3f}", "Top-2 accuracy": "1.000"}
    assert any("Validation metrics per class" in m.value for m in at.markdown)
    per_class = at.dataframe[0].value
    assert list(per_class["Class"]) == ["bright", "dark"]
    assert list(per_class.columns) == ["Class", "Precision", "Recall", "F1", "Validation examples"]
    assert list(per_class["Validation examples"]) == [2, 3]
    counts, normalised = at.dataframe[1].value, at.dataframe[2].value
    assert list(counts.columns) == ["True class", "bright", "dark"]
    assert counts[["bright", "dark"]].values.tolist() == metrics["confusion"]["counts"]
    assert [round(sum(row), 3) for row in normalised[["bright", "dark"]].values.tolist()] == [1.0, 1.0]
    examples = at.dataframe[3].value
    assert set(examples["Example"]) == {"b4.png", "b5.png", "d4.png", "d5.png", "wrong.png"}
    assert {"True class", "Predicted class", "Probability", "Correct"} <= set(examples.columns)
    assert any(e.label == "The prediction of every validation example" for e in at.expander)
    assert any("Misclassified validation examples" in m.value for m in at.markdown)
    pictures = at.get("image")
    wrong = [r["image"] for r in metrics["per_image"] if not r["correct"]]
    assert sorted(p.captions[0] for p in pictures) == sorted(Path(n).stem for n in wrong)

    # the Compare page next to a segmentation training: each type's charts and its own score names
    from tests.models_helpers import trained_model

    semantic = {"train_config": {"training_type": "semantic", "labels": [{"id": 1, "name": "nucleus",
                                                                          "color": "#e6194b"}]},
                "wizard": {"split_mode": "random"}, "budget_seconds": 60}
    other = trained_model(app_env, engine, cp.project_id, "nuclei", config=semantic, curves=((0.9, 0.5),))
    at.switch_page("pages/compare.py").run()
    assert not at.exception, at.exception
    assert sorted(at.multiselect(key="compare_ids").value) == sorted([training.id, other.id])
    titles = panel_titles(chart_of(at)[0])
    assert {"Loss", "Accuracy", "Macro-F1", "IoU"} <= set(titles)
    scores, facts = at.dataframe[0].value, at.dataframe[1].value
    mine = scores[scores["Training"] == f"#{training.id} {training.name}"].iloc[0]
    assert mine["Accuracy"] == round(overall["accuracy"], 3)
    assert mine["Macro-F1"] == round(overall["macro_f1"], 3)
    assert "bright F1" in scores.columns and "bright F1@0.5" not in scores.columns
    assert facts[facts["Training"] == f"#{training.id} {training.name}"].iloc[0]["Steps"] == 40  # its card

    at.switch_page("pages/models.py").run()  # the Models page lists what it can read, without an error
    assert not at.exception, at.exception
