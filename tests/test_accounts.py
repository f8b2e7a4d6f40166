"""Lab accounts (core.accounts): off by default, on with the setting or a first admin; salted slow hashes,
sign-in, sessions that end, the last admin kept, and the `segstudio user` commands."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from core import accounts
from core.cli import main as cli_main
from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import utcnow
from core.errors import DuplicateError, InvalidInputError, NotFoundError
from core.password import parse_stored


@pytest.fixture()
def lab(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    return settings, make_engine(settings.database_url)


def test_accounts_are_off_until_switched_on_or_a_first_admin_exists(lab):
    settings, engine = lab
    assert not accounts.accounts_on(settings, engine)
    assert accounts.accounts_on(settings.with_(accounts=True), engine)
    accounts.add_account(engine, "bob", "bob-password")  # a member alone does not switch them on
    assert not accounts.accounts_on(settings, engine)
    accounts.add_account(engine, "ada", "ada-password", admin=True)
    assert accounts.accounts_on(settings, engine)
    assert Settings.from_env({"SEGSTUDIO_ACCOUNTS": "on"}).accounts
    assert not Settings.from_env({}).accounts
    with pytest.raises(InvalidInputError, match="set it to on or off"):
        Settings.from_env({"SEGSTUDIO_ACCOUNTS": "maybe"})


def test_passwords_are_stored_salted_and_slow_and_names_are_checked(lab):
    _, engine = lab
    accounts.add_account(engine, "ada", "same-password")
    accounts.add_account(engine, "bob", "same-password")
    with session_scope(engine) as s:
        stored = [a.password_hash for a in repo.list_accounts(s)]
    assert stored[0] != stored[1] and "same-password" not in stored[0]  # salted: same password, other hash
    parsed = parse_stored(stored[0])
    assert parsed.scheme == "scrypt" and parsed.n >= 2**14  # slow by design
    with pytest.raises(DuplicateError, match="exists already"):
        accounts.add_account(engine, "ADA", "another-password")
    with pytest.raises(InvalidInputError, match="too short"):
        accounts.add_account(engine, "cy", "short")
    with pytest.raises(InvalidInputError, match="cannot be used"):
        accounts.add_account(engine, "two words", "long-enough-1")


def test_sign_in_refuses_wrong_passwords_unknown_and_disabled_accounts_alike(lab):
    _, engine = lab
    accounts.add_account(engine, "ada", "ada-password", admin=True)
    accounts.add_account(engine, "bob", "bob-password")
    assert accounts.authenticate(engine, "Ada", "ada-password").name == "ada"  # the name's case is free
    assert accounts.authenticate(engine, "ada", "ADA-password") is None  # the password's is not
    assert accounts.authenticate(engine, "nobody", "ada-password") is None
    assert accounts.authenticate(engine, "", "") is None
    accounts.set_disabled(engine, "bob")
    assert accounts.authenticate(engine, "bob", "bob-password") is None
    accounts.set_disabled(engine, "bob", disabled=False)
    assert accounts.authenticate(engine, "bob", "bob-password") is not None


def test_sessions_end_on_expiry_disabling_and_a_new_password(lab):
    settings, engine = lab
    bob = accounts.add_account(engine, "bob", "bob-password")
    accounts.add_account(engine, "ada", "ada-password", admin=True)
    now = utcnow()
    with session_scope(engine) as s:  # made a day ago
        repo.update_account(s, repo.find_account(s, "bob"), password_changed_at=now - timedelta(days=1))
    assert accounts.session_member(settings, engine, bob.id, now).name == "bob"
    assert accounts.session_member(settings, engine, bob.id, now - timedelta(hours=13)) is None  # expired
    assert accounts.session_member(settings.with_(session_hours=24), engine, bob.id,
                                   now - timedelta(hours=13)) is not None
    accounts.set_password(engine, "bob", "new-bob-password")
    assert accounts.session_member(settings, engine, bob.id, now) is None  # opened before the new password
    assert accounts.session_member(settings, engine, bob.id, utcnow()) is not None
    accounts.set_disabled(engine, "bob")
    assert accounts.session_member(settings, engine, bob.id, utcnow()) is None
    assert accounts.session_member(settings, engine, 999, utcnow()) is None


def test_changing_ones_own_password_asks_for_the_current_one(lab):
    _, engine = lab
    bob = accounts.add_account(engine, "bob", "bob-password")
    with pytest.raises(InvalidInputError, match="current password is not right"):
        accounts.change_own_password(engine, bob.id, "wrong", "new-password-1", "new-password-1")
    with pytest.raises(InvalidInputError, match="differ"):
        accounts.change_own_password(engine, bob.id, "bob-password", "new-password-1", "new-password-2")
    accounts.change_own_password(engine, bob.id, "bob-password", "new-password-1", "new-password-1")
    assert accounts.authenticate(engine, "bob", "new-password-1") is not None
    assert accounts.authenticate(engine, "bob", "bob-password") is None


def test_the_last_enabled_admin_cannot_be_disabled(lab):
    _, engine = lab
    accounts.add_account(engine, "ada", "ada-password", admin=True)
    with pytest.raises(InvalidInputError, match="only enabled admin"):
        accounts.set_disabled(engine, "ada")
    accounts.add_account(engine, "grace", "grace-password", admin=True)
    accounts.set_disabled(engine, "ada")
    with pytest.raises(NotFoundError, match="no account named"):
        accounts.set_disabled(engine, "nobody")


def test_the_user_commands(lab, monkeypatch, capsys):
    settings, engine = lab
    monkeypatch.setenv("SEGSTUDIO_DATA", str(settings.data_dir))

    def run(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return cli_main(list(argv))

    assert run("user", "add", "ada", "--admin", "--password-stdin", stdin="ada-password\n") == 0
    assert "Accounts are on from now" in capsys.readouterr().err
    assert run("user", "add", "bob", "--password-stdin", stdin="bob-password\n") == 0
    assert run("user", "add", "cy", "--password-stdin", stdin="short\n") == 1
    assert "too short" in capsys.readouterr().err
    assert run("user", "passwd", "bob", "--password-stdin", stdin="bob-password-2\n") == 0
    assert accounts.authenticate(engine, "bob", "bob-password-2") is not None
    assert run("user", "disable", "bob") == 0
    assert run("user", "disable", "ada") == 1
    assert "only enabled admin" in capsys.readouterr().err
    capsys.readouterr()
    assert run("user", "list") == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        f"ada (admin) · since {utcnow():%Y-%m-%d}", f"bob (disabled) · since {utcnow():%Y-%m-%d}"]
    assert run("user", "disable", "bob", "--enable") == 0
    assert accounts.authenticate(engine, "bob", "bob-password-2") is not None


def test_the_command_line_acts_as_an_account_and_lists_only_its_projects(lab, monkeypatch, capsys):
    import json

    from core.projects import create_project

    settings, engine = lab
    monkeypatch.setenv("SEGSTUDIO_DATA", str(settings.data_dir))
    monkeypatch.delenv("SEGSTUDIO_TOKEN", raising=False)
    accounts.add_account(engine, "ada", "ada-password", admin=True)
    bob = accounts.add_account(engine, "bob", "bob-password")
    cy = accounts.add_account(engine, "cy", "cy-password-1")
    create_project(settings, engine, "bobs", owner_id=bob.id)
    create_project(settings, engine, "cys", owner_id=cy.id)

    assert cli_main(["project", "list"]) == 1  # nobody named
    assert "lab accounts are on" in capsys.readouterr().err
    monkeypatch.setenv("SEGSTUDIO_TOKEN", "sst_not-a-token")
    assert cli_main(["project", "list"]) == 1
    assert "not a token of an enabled account" in capsys.readouterr().err

    assert cli_main(["user", "token", "bob", "--label", "nightly"]) == 0  # user commands need no account
    token = capsys.readouterr().out.strip().removeprefix("export SEGSTUDIO_TOKEN=")
    monkeypatch.setenv("SEGSTUDIO_TOKEN", token)
    assert cli_main(["project", "list", "--json"]) == 0
    assert [p["name"] for p in json.loads(capsys.readouterr().out)] == ["bobs"]
    assert cli_main(["images", "cys"]) == 1  # someone else's project reads as missing
    assert "No project 'cys' that you may open" in capsys.readouterr().err
    assert cli_main(["project", "create", "bobs too", "--json"]) == 0
    capsys.readouterr()
    assert cli_main(["project", "list", "--json"]) == 0
    assert [p["name"] for p in json.loads(capsys.readouterr().out)] == ["bobs", "bobs too"]  # its owner

    monkeypatch.delenv("SEGSTUDIO_TOKEN")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "ada-password")
    assert cli_main(["--user", "ada", "project", "list", "--json"]) == 0  # the admin sees every project
    assert len(json.loads(capsys.readouterr().out)) == 3
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "wrong-password")
    assert cli_main(["--user", "ada", "project", "list"]) == 1
    accounts.set_disabled(engine, "bob")
    monkeypatch.setenv("SEGSTUDIO_TOKEN", token)
    assert cli_main(["project", "list"]) == 1  # a disabled account's token no longer works


def test_the_command_lines_actions_go_to_the_activity_log(lab, monkeypatch, capsys):
    import json

    from core import activity

    settings, engine = lab
    monkeypatch.setenv("SEGSTUDIO_DATA", str(settings.data_dir))
    monkeypatch.delenv("SEGSTUDIO_TOKEN", raising=False)
    assert cli_main(["project", "create", "plain", "--json"]) == 0  # accounts off: nobody named
    project_id = json.loads(capsys.readouterr().out)["id"]
    [entry] = activity.project_log(engine, project_id)
    assert (entry.who, entry.action) == (activity.NOBODY, "made the project")
    bob = accounts.add_account(engine, "bob", "bob-password", admin=True)
    monkeypatch.setenv("SEGSTUDIO_TOKEN", accounts.new_token(engine, "bob"))
    assert cli_main(["project", "delete", "plain", "--yes"]) == 0
    assert [(e.who, e.action) for e in activity.project_log(engine, project_id)][0] == ("bob", "deleted the project")
    assert bob.is_admin
