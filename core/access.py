"""Who may open which project when lab accounts are on (:mod:`core.accounts`).

An admin opens every project; any other account opens the projects it owns or is a member of. With accounts
off every project is open to whoever opens the app (``account_id`` is None). A project made before accounts
were switched on has no members: the admins open it and may add members.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy.engine import Engine

from core.db import repo, session_scope
from core.errors import InvalidInputError, NotFoundError

T = TypeVar("T")
R = TypeVar("R")
OWNER, MEMBER = "owner", "member"
ROLES = (OWNER, MEMBER)


def visible_project_ids(engine: Engine, account_id: int | None) -> set[int] | None:
    """The ids of the projects ``account_id`` may open, or None for every project (accounts off: no account
    signed in; or an admin). A missing or disabled account opens none."""
    if account_id is None:
        return None
    with session_scope(engine) as session:
        account = repo.get_account(session, account_id)
        if account is None or account.disabled:
            return set()
        if account.is_admin:
            return None
        return repo.project_ids_of(session, account_id)


def may_open(engine: Engine, account_id: int | None, project_id: int) -> bool:
    visible = visible_project_ids(engine, account_id)
    return visible is None or project_id in visible


def only_visible(engine: Engine, account_id: int | None, project_ids: Iterable[int]) -> list[int]:
    """``project_ids`` (in their order) that ``account_id`` may open."""
    visible = visible_project_ids(engine, account_id)
    return [pid for pid in project_ids if visible is None or pid in visible]


def members(engine: Engine, project_id: int) -> list[tuple[str, str]]:
    """(account name, role) of the project's members, owners first."""
    with session_scope(engine) as session:
        rows = [(account.name, row.role) for row, account in repo.list_project_members(session, project_id)]
    return sorted(rows, key=lambda r: (r[1] != OWNER, r[0].lower()))


def may_manage(engine: Engine, account_id: int | None, project_id: int) -> bool:
    """Whether ``account_id`` may change the project's members: an admin or one of its owners."""
    if visible_project_ids(engine, account_id) is None:
        return True
    with session_scope(engine) as session:
        return any(row.account_id == account_id and row.role == OWNER
                   for row, _ in repo.list_project_members(session, project_id))


def set_member(engine: Engine, project_id: int, name: str, role: str = MEMBER) -> None:
    """Give account ``name`` the ``role`` (owner or member) in the project."""
    if role not in ROLES:
        raise InvalidInputError(f"Role {role!r} is not known; use owner or member.")
    with session_scope(engine) as session:
        account = repo.find_account(session, name)
        if account is None:
            raise NotFoundError(f"There is no account named {name!r}; an admin adds it on the Accounts page.")
        repo.get_project(session, project_id)
        repo.set_project_member(session, project_id, account.id, role)  # type: ignore[arg-type]


def remove_member(engine: Engine, project_id: int, name: str) -> None:
    """Take account ``name`` off the project; its last owner stays (someone must manage the members)."""
    with session_scope(engine) as session:
        account = repo.find_account(session, name)
        if account is None:
            raise NotFoundError(f"There is no account named {name!r}.")
        rows = repo.list_project_members(session, project_id)
        owners = [row.account_id for row, _ in rows if row.role == OWNER]
        if owners == [account.id]:
            raise InvalidInputError(f"{account.name!r} is the project's only owner; make someone else an owner "
                                    "first.")
        repo.remove_project_member(session, project_id, account.id)  # type: ignore[arg-type]


def visible_training_ids(engine: Engine, account_id: int | None) -> set[int] | None:
    """The ids of the trainings in projects ``account_id`` may open, or None for every training."""
    visible = visible_project_ids(engine, account_id)
    if visible is None:
        return None
    with session_scope(engine) as session:
        return {t.id for t in repo.list_trainings(session) if t.project_id in visible}  # type: ignore[misc]


def usable_model_training_ids(engine: Engine, account_id: int | None) -> set[int] | None:
    """The trainings whose models ``account_id`` may use: those of the projects it may open, and the models
    their owners shared with the whole lab. None: every one."""
    trainings = visible_training_ids(engine, account_id)
    if trainings is None:
        return None
    with session_scope(engine) as session:
        return trainings | repo.shared_training_ids(session)


def keep_visible_models(engine: Engine, account_id: int | None, models: Iterable[T]) -> list[T]:
    """The models (anything with a ``training_id``) that ``account_id`` may use: those trained in projects it
    may open or shared with the whole lab; models that no training made (shipped with segstudio, imported)
    are the whole lab's."""
    trainings = usable_model_training_ids(engine, account_id)
    return [m for m in models if trainings is None or m.training_id is None  # type: ignore[attr-defined]
            or m.training_id in trainings]  # type: ignore[attr-defined]


def may_use_model(engine: Engine, account_id: int | None, key: str) -> bool:
    """Whether ``account_id`` may use the catalog's model ``key`` (``training:<id>``, ``imported:…``,
    ``shipped:…``): a training's model when it may open the training's project; the others always."""
    source, _, ident = key.partition(":")
    if source != "training" or not ident.isdigit():
        return True
    trainings = usable_model_training_ids(engine, account_id)
    return trainings is None or int(ident) in trainings


def visible_runs(engine: Engine, account_id: int | None, runs: Iterable[R]) -> list[R]:
    """The prediction runs ``account_id`` may see: its own; another account's when every image was of a project
    it may open (no uploaded files, which only their uploader sees) and the model is one it may use."""
    visible = visible_project_ids(engine, account_id)
    runs = list(runs)
    if visible is None:
        return runs
    image_ids = {int(item["image_id"]) for run in runs for item in run.config.get("items", [])  # type: ignore[attr-defined]
                 if "image_id" in item}
    with session_scope(engine) as session:
        project_of = repo.image_projects(session, image_ids)
    trainings = usable_model_training_ids(engine, account_id) or set()

    def shown(run: R) -> bool:
        if run.account_id == account_id:  # type: ignore[attr-defined]
            return True
        items = run.config.get("items", [])  # type: ignore[attr-defined]
        return (bool(items) and all("image_id" in item and project_of.get(int(item["image_id"])) in visible
                                    for item in items)
                and (run.training_id is None or run.training_id in trainings))  # type: ignore[attr-defined]

    return [run for run in runs if shown(run)]


def share_model(engine: Engine, account_id: int | None, training_id: int, shared: bool) -> None:
    """Share the model of ``training_id`` with the whole lab (or stop sharing it): its project's owners and
    the admins may."""
    with session_scope(engine) as session:
        training = repo.get_training(session, training_id)
        project_id = training.project_id
    if not may_manage(engine, account_id, project_id):
        raise InvalidInputError("Only the project's owners and the admins may share its models.")
    with session_scope(engine) as session:
        repo.update_training(session, training_id, shared=shared)
