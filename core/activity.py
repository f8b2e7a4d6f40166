"""Who did what, and when: each project's activity log (project made, images imported or deleted, annotations
saved, trainings started or deleted, prediction runs started, members changed, models deleted).

Entries name their account (with lab accounts on; "the command line" or "someone" without) and outlive what
they describe: a deleted project's entries stay in the log (its id only), so that a deletion can be traced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy.engine import Engine

from core.db import repo, session_scope
from core.db.models import Activity

NOBODY = "someone (accounts off)"


@dataclass(frozen=True)
class Entry:
    when: datetime
    who: str
    action: str
    detail: str


def record(engine: Engine, account_id: int | None, action: str, *, project_id: int | None = None,
           detail: str = "") -> None:
    """Add an entry: ``action`` in a few words ("imported images"), ``detail`` what it was about."""
    with session_scope(engine) as session:
        repo.add_activity(session, Activity(account_id=account_id, project_id=project_id, action=action,
                                            detail=detail[:500]))


def project_log(engine: Engine, project_id: int, *, limit: int = 50) -> list[Entry]:
    """The project's newest entries first."""
    with session_scope(engine) as session:
        rows = repo.list_activity(session, project_id, limit=limit)
        names = {a.id: a.name for a in repo.list_accounts(session)}
    return [Entry(when=row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc),
                  who=names.get(row.account_id, "a deleted account") if row.account_id is not None else NOBODY,
                  action=row.action, detail=row.detail) for row in rows]


def author_name(engine: Engine, account_id: int | None) -> str | None:
    """The name of the account ``account_id`` (None: no account recorded)."""
    if account_id is None:
        return None
    with session_scope(engine) as session:
        account = repo.get_account(session, account_id)
    return account.name if account is not None else "a deleted account"
