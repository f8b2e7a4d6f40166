"""Compare: two trainings' curves overlaid, one metrics row each, and only the settings that differ."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from tests.app.charts import chart_of
from tests.models_helpers import trained_model

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _config(seed: int) -> dict:
    train = {"training_type": "semantic", "labels": [{"id": 1, "name": "nucleus", "color": "#e6194b"}],
             "encoder": "resnet18-compact", "seed": seed, "duration": "quick"}
    return {"train_config": train, "wizard": {"split_mode": "random", "duration": "quick"}, "budget_seconds": 60}


def test_two_trainings_side_by_side(app_env):
    engine = make_engine(app_env.database_url)
    with session_scope(engine) as s:
        project = repo.create_project(s, "Nuclei")
        other = repo.create_project(s, "Cells")
    a = trained_model(app_env, engine, project.id, "first", config=_config(1), overall={"iou": 0.81234},
                      curves=((0.6, 0.3), (0.9, 0.5)))
    b = trained_model(app_env, engine, project.id, "second", config=_config(2), overall={"iou": 0.7},
                      curves=((0.7, 0.4),))
    c = trained_model(app_env, engine, other.id, "elsewhere", config=_config(1))

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project.id
    at.switch_page("pages/compare.py")
    at.run()
    assert not at.exception, at.exception
    # the newest two finished trainings of the project are chosen at first; the other project's is not offered
    assert sorted(at.multiselect(key="compare_ids").value) == [a.id, b.id]
    assert c.id not in at.multiselect(key="compare_ids").options
    _, points = chart_of(at)
    names = {p["line"] for p in points}
    assert {f"#{a.id} first · validation", f"#{b.id} second · validation"} <= names
    kept = [p for p in points if p["line"] == f"#{a.id} first · kept model (as in the table)"]
    assert kept and {p["epoch"] for p in kept} == {2}
    scores, facts, diff = (d.value for d in at.dataframe)
    assert list(scores["Training"]) == [f"#{a.id} first", f"#{b.id} second"] or \
        list(scores["Training"]) == [f"#{b.id} second", f"#{a.id} first"]
    assert set(scores["IoU"]) == {0.812, 0.7} and "Steps" in facts.columns and "Device" in facts.columns
    assert list(diff["Setting"]) == ["Seed"]  # only what differs
    assert at.query_params["trainings"] == ",".join(str(i) for i in at.multiselect(key="compare_ids").value)

    at.toggle(key="compare_every_project").set_value(True).run()  # across projects
    at.multiselect(key="compare_ids").set_value([a.id, c.id]).run()
    assert not at.exception, at.exception
    assert set(at.dataframe[1].value["Project"]) == {"Nuclei", "Cells"}
    assert not any(d.value.columns[0] == "Setting" for d in at.dataframe)  # the same configuration
    assert any("same configuration" in m.value for m in at.success)
