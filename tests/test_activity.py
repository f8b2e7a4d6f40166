"""Who did what (lab accounts): the activity log, the author of a training (its page, its report) and
notifications for the member who started a training."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import accounts, activity
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import CANCELLED, utcnow
from core.demo import create_demo_project
from core.errors import InvalidInputError
from core.jobs.worker import Worker
from core.trainings import WizardChoices, queue_training
from ui.context import SIGNED_IN

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _queued(settings, engine, account_id: int | None, name: str):
    """A queued training of a new demo project, started by ``account_id``."""
    project = create_demo_project(settings, engine, owner_id=account_id)
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        label = repo.list_labels(s, project.id)[0]
    return queue_training(settings, engine, WizardChoices(
        project_id=project.id, training_type="semantic", label_ids=[label.id], image_ids=[i.id for i in images],
        duration="5", name=name), account_id=account_id)


def test_the_activity_log_names_who_did_what_newest_first(settings, engine):
    bob = accounts.add_account(engine, "bob", "bob-password")
    activity.record(engine, bob.id, "imported images", project_id=7, detail="3 image(s)")
    activity.record(engine, None, "started a training", project_id=7, detail="#1 nuclei")
    activity.record(engine, bob.id, "made the project", project_id=8)
    log = activity.project_log(engine, 7)
    assert [(e.who, e.action, e.detail) for e in log] == [
        (activity.NOBODY, "started a training", "#1 nuclei"), ("bob", "imported images", "3 image(s)")]
    assert activity.author_name(engine, bob.id) == "bob" and activity.author_name(engine, None) is None


def test_a_trainings_notification_goes_to_who_started_it(settings, engine):
    bob = accounts.add_account(engine, "bob", "bob-password")
    cy = accounts.add_account(engine, "cy", "cy-password-1")
    training = _queued(settings, engine, bob.id, "bob's run")
    assert training.account_id == bob.id
    Worker(settings)._notify("training", training.id, CANCELLED)
    with session_scope(engine) as s:
        repo.notify(s, "for everyone")
        for_bob = [n.text for n in repo.list_notifications(s, account_id=bob.id)]
        for_cy = [n.text for n in repo.list_notifications(s, account_id=cy.id)]
        for_all = [n.text for n in repo.list_notifications(s)]  # accounts off
        assert repo.count_unread_notifications(s, cy.id) == 1
    assert any("bob's run" in t for t in for_bob) and "for everyone" in for_bob
    assert for_cy == ["for everyone"] and len(for_all) == 2


def test_the_trainings_page_and_the_projects_activity_show_the_author(app_env):
    engine = make_engine(app_env.database_url)
    ada = accounts.add_account(engine, "ada", "ada-password", admin=True)
    training = _queued(app_env, engine, ada.id, "ada's run")
    project_id = training.project_id
    activity.record(engine, ada.id, "started a training", project_id=project_id, detail="#1 ada's run")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[SIGNED_IN] = {"id": ada.id, "at": utcnow().isoformat()}
    at.session_state["project_id"] = project_id
    at.session_state["training_detail"] = training.id
    at.switch_page("pages/trainings.py")
    at.run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("Started by ada") for c in at.caption)
    at.switch_page("pages/projects.py").run()
    assert not at.exception, at.exception
    log = at.dataframe[-1].value
    assert list(log["Who"]) == ["ada"] and list(log["What"]) == ["started a training"]


def test_the_end_of_a_training_is_mailed_to_who_started_it(tmp_path, monkeypatch):
    import smtplib

    from core.config import Settings
    from tests.jobs.test_mail import FakeSMTP

    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    settings = Settings.from_env({"SEGSTUDIO_DATA": str(tmp_path / "data"), "SEGSTUDIO_SMTP_HOST": "mail.lab",
                                  "SEGSTUDIO_SMTP_TO": "lab@lab.example"})
    engine = make_engine(settings.database_url)
    bob = accounts.add_account(engine, "bob", "bob-password", email="bob@lab.example")
    training = _queued(settings, engine, bob.id, "mailed")
    Worker(settings)._notify("training", training.id, CANCELLED)
    assert FakeSMTP.sent[-1][2]["To"] == "bob@lab.example"
    anonymous = _queued(settings, engine, None, "nobody's")  # nobody named: the lab's address
    Worker(settings)._notify("training", anonymous.id, CANCELLED)
    assert FakeSMTP.sent[-1][2]["To"] == "lab@lab.example"
    with pytest.raises(InvalidInputError, match="not an email address"):
        accounts.add_account(engine, "cy", "cy-password-1", email="cy at lab")


def test_the_gallery_says_who_saved_an_images_annotations(settings, engine):
    from core.db.models import Image
    from ui.gallery import image_caption

    bob = accounts.add_account(engine, "bob", "bob-password")
    project = create_demo_project(settings, engine, owner_id=bob.id)
    with session_scope(engine) as s:
        image = repo.list_images(s, project.id)[0]
        repo.set_annotated_by(s, image.id, bob.id)
        image = s.get(Image, image.id)
    assert image.annotated_by == bob.id
    assert " · by bob, " in image_caption(image, "bob") and " by " not in image_caption(image)
