"""Lab accounts and projects: a member opens only the projects it owns or is a member of (pages, the
current-project state, `?training=` links, the wizard's address, models and prediction runs); an admin opens
every project; the owners manage the members."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import access, accounts
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import Image, Prediction, utcnow
from core.errors import InvalidInputError, NotFoundError
from core.projects import create_project
from tests.models_helpers import imported_package, trained_model
from ui.context import SIGNED_IN

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture()
def lab(app_env):
    """ada (admin), bob owning "Bob's nuclei" with a trained model, cy owning "Cy's cells" with one."""
    engine = make_engine(app_env.database_url)
    ada = accounts.add_account(engine, "ada", "ada-password", admin=True)
    bob = accounts.add_account(engine, "bob", "bob-password")
    cy = accounts.add_account(engine, "cy", "cy-password-1")
    mine = create_project(app_env, engine, "Bob's nuclei", owner_id=bob.id)
    theirs = create_project(app_env, engine, "Cy's cells", owner_id=cy.id)
    return {"engine": engine, "ada": ada, "bob": bob, "cy": cy, "mine": mine, "theirs": theirs,
            "my_model": trained_model(app_env, engine, mine.id, "bob model"),
            "their_model": trained_model(app_env, engine, theirs.id, "cy model")}


def _as(member, page: str, *, project_id: int | None = None, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[SIGNED_IN] = {"id": member.id, "at": utcnow().isoformat()}
    if project_id is not None:
        at.session_state["project_id"] = project_id
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.switch_page(page)
    return at.run()


def _texts(elements) -> str:
    return " | ".join(e.value for e in elements)


def test_a_member_sees_only_its_projects_and_an_admin_sees_all(lab):
    at = _as(lab["bob"], "pages/projects.py")
    assert not at.exception, at.exception
    assert at.selectbox(key="projects_page_project").options == ["Bob's nuclei"]
    at = _as(lab["ada"], "pages/projects.py")
    assert sorted(at.selectbox(key="projects_page_project").options) == ["Bob's nuclei", "Cy's cells"]


def test_another_projects_id_in_the_session_or_a_link_is_refused(lab):
    at = _as(lab["bob"], "pages/annotate.py", project_id=lab["theirs"].id)  # a crafted current project
    assert not at.exception, at.exception
    assert "Cy's cells" not in _texts(at.markdown) + _texts(at.title)
    current = at.session_state["project_id"] if "project_id" in at.session_state else None
    assert current != lab["theirs"].id
    at = _as(lab["bob"], "pages/trainings.py", project_id=lab["mine"].id,
             params={"training": str(lab["their_model"].id)})
    assert not at.exception, at.exception
    assert "belongs to a project you may not open" in _texts(at.error)
    assert at.selectbox(key="training_detail_picker").value == lab["my_model"].id
    wizard = {"step": "2", "choices": json.dumps({"project_id": lab["theirs"].id})}
    at = _as(lab["bob"], "pages/wizard.py", params=wizard)
    assert not at.exception, at.exception
    assert "not one you may open" in _texts(at.warning)
    at = _as(lab["bob"], "pages/wizard.py", params={"step": "7", "choices": json.dumps(
        {"project_id": lab["mine"].id, "start": f"training:{lab['their_model'].id}"})})
    assert "not one you may use" in _texts(at.warning)


def test_models_and_prediction_runs_of_other_projects_are_not_listed(lab, app_env):
    imported_package(app_env, "shared-abc")
    engine = lab["engine"]
    with session_scope(engine) as s:
        image = repo.add_image(s, _image(lab["theirs"].id))
        repo.add_prediction(s, Prediction(training_id=lab["their_model"].id, config={
            "items": [{"image_id": image.id}], "model_title": "cy model"}, account_id=lab["cy"].id))
    at = _as(lab["bob"], "pages/models.py")
    assert not at.exception, at.exception
    shown = " ".join(_texts(at.markdown).split())
    assert "bob model" in shown and "cy model" not in shown and "shared-abc" in shown
    at = _as(lab["bob"], "pages/apply.py", project_id=lab["mine"].id)
    assert not at.exception, at.exception
    titles = at.selectbox(key="apply_model").options
    assert any("bob model" in t for t in titles) and not any("cy model" in t for t in titles)
    assert not _has(at, "apply_run_picker")  # cy's run over cy's image is not bob's to see
    at = _as(lab["cy"], "pages/apply.py", project_id=lab["theirs"].id)
    assert _has(at, "apply_run_picker")  # cy's own run


def _has(at: AppTest, key: str) -> bool:
    return any(getattr(e, "key", None) == key for e in at.selectbox)


def _image(project_id: int) -> Image:
    return Image(project_id=project_id, name="x.png", stored_path="x.png", thumb_path="", width=8, height=8,
                 channels=1, dtype="uint8", content_hash=f"h{project_id}")


def test_owners_manage_members_and_the_last_owner_stays(lab):
    engine, mine = lab["engine"], lab["mine"]
    assert not access.may_open(engine, lab["cy"].id, mine.id)
    assert access.may_manage(engine, lab["bob"].id, mine.id) and not access.may_manage(engine, lab["cy"].id, mine.id)
    access.set_member(engine, mine.id, "cy")
    assert access.may_open(engine, lab["cy"].id, mine.id) and not access.may_manage(engine, lab["cy"].id, mine.id)
    assert access.members(engine, mine.id) == [("bob", "owner"), ("cy", "member")]
    with pytest.raises(InvalidInputError, match="only owner"):
        access.remove_member(engine, mine.id, "bob")
    with pytest.raises(NotFoundError, match="no account named"):
        access.set_member(engine, mine.id, "nobody")
    access.remove_member(engine, mine.id, "cy")
    assert not access.may_open(engine, lab["cy"].id, mine.id)
    assert access.visible_project_ids(engine, None) is None  # accounts off: everything
    assert access.visible_project_ids(engine, lab["ada"].id) is None  # admin
    accounts.set_disabled(engine, "bob")
    assert access.visible_project_ids(engine, lab["bob"].id) == set()


def test_the_projects_page_lets_an_owner_add_a_member(lab):
    at = _as(lab["bob"], "pages/projects.py", project_id=lab["mine"].id)
    assert "**bob** (owner)" in _texts(at.markdown)
    at.selectbox(key=f"member_name_{lab['mine'].id}").set_value("cy")
    next(b for b in at.button if b.label == "Add or change").click().run()
    assert not at.exception, at.exception
    assert access.may_open(lab["engine"], lab["cy"].id, lab["mine"].id)
    at = _as(lab["cy"], "pages/projects.py", project_id=lab["mine"].id)  # cy: a member, not an owner
    assert "The project's owners and the admins add" in _texts(at.caption)


def test_a_model_shared_with_the_lab_is_usable_by_all_and_managed_by_its_project(lab):
    engine, theirs = lab["engine"], lab["their_model"]
    with pytest.raises(InvalidInputError, match="owners and the admins"):
        access.share_model(engine, lab["bob"].id, theirs.id, True)  # not bob's project
    at = _as(lab["cy"], "pages/models.py")
    at.toggle(key=f"share_training_{theirs.id}").set_value(True).run()
    assert not at.exception, at.exception
    assert access.may_use_model(engine, lab["bob"].id, f"training:{theirs.id}")
    assert not access.may_open(engine, lab["bob"].id, lab["theirs"].id)  # the project stays cy's
    at = _as(lab["bob"], "pages/models.py")
    assert not at.exception, at.exception
    assert "cy model" in " ".join(_texts(at.markdown).split())
    keys = [b.key for b in at.button]
    assert f"delete_training_{theirs.id}" not in keys and f"delete_training_{lab['my_model'].id}" in keys
    assert "Shared with the lab by another project" in _texts(at.caption)
    at = _as(lab["bob"], "pages/apply.py", project_id=lab["mine"].id)
    assert any("cy model" in t for t in at.selectbox(key="apply_model").options)


def test_an_image_of_another_project_in_the_address_is_not_opened(app_env):
    from core.demo import create_demo_project
    from ui.image_choice import QUERY_KEY

    engine = make_engine(app_env.database_url)
    accounts.add_account(engine, "ada", "ada-password", admin=True)
    bob = accounts.add_account(engine, "bob", "bob-password")
    cy = accounts.add_account(engine, "cy", "cy-password-1")
    mine = create_demo_project(app_env, engine, owner_id=bob.id)
    theirs = create_demo_project(app_env, engine, owner_id=cy.id)
    with session_scope(engine) as s:
        their_image = repo.list_images(s, theirs.id)[-1]
    at = _as(bob, "pages/annotate.py", project_id=theirs.id, params={QUERY_KEY: str(their_image.id)})
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        my_ids = {i.id for i in repo.list_images(s, mine.id)}
    pickers = [b for b in at.selectbox if b.label == "Image"]
    if pickers:  # the sidebar chose bob's project: one of its images is open, not cy's
        assert pickers[0].value in my_ids and at.query_params[QUERY_KEY] == str(pickers[0].value)
    else:  # (AppTest ran the page without the app's frame and its sidebar: the project alone is refused)
        assert "Choose or create a project first." in _texts(at.info)
