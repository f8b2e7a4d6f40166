"""Lab accounts: who may open the app, with a name and a password of their own.

Off by default, so that one user on a laptop sees no change (no login; or the shared lab password of
:mod:`core.password` when one is set). On with SEGSTUDIO_ACCOUNTS=on, or as soon as a first admin exists
(``segstudio user add NAME --admin``); then every page asks for a name and a password, and the shared lab
password no longer opens the app.

Passwords are stored as :mod:`core.password`'s salted scrypt hashes. A session lasts
``Settings.session_hours`` and ends early when its account is disabled or its password changes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.config import Settings
from core.db import repo, session_scope
from core.db.models import Account, ApiToken, utcnow
from core.errors import InvalidInputError, NotFoundError
from core.password import hash_password, verify_password

MIN_PASSWORD = 8
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
ADD_FIRST_ADMIN = "run `segstudio user add NAME --admin` on the machine that runs segstudio"


@dataclass(frozen=True)
class Member:
    """An account as the rest of the app sees it (never its password hash)."""

    id: int
    name: str
    is_admin: bool
    disabled: bool
    created_at: datetime
    email: str
    password_changed_at: datetime


def _member(account: Account) -> Member:
    return Member(id=account.id, name=account.name, is_admin=account.is_admin,  # type: ignore[arg-type]
                  disabled=account.disabled, created_at=_aware(account.created_at), email=account.email,
                  password_changed_at=_aware(account.password_changed_at))


def _aware(moment: datetime) -> datetime:
    """SQLite gives datetimes back without their time zone; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def accounts_on(settings: Settings, engine: Engine) -> bool:
    """Whether the app asks every user to sign in."""
    if settings.accounts:
        return True
    with session_scope(engine) as session:
        return repo.count_admins(session, enabled_only=False) > 0


def check_name(name: str) -> str:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not NAME.fullmatch(cleaned):
        raise InvalidInputError(
            f"The account name {name!r} cannot be used: use 1 to 64 letters, digits, dots, dashes, underscores "
            "or @, starting with a letter or digit (e.g. ada.lovelace).")
    return cleaned


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"The password is too short: use at least {MIN_PASSWORD} characters.")
    if password.strip() != password:
        raise InvalidInputError("The password starts or ends with a space; remove it (or put it inside).")
    return password


def check_email(email: str) -> str:
    cleaned = (email or "").strip()
    if cleaned and not EMAIL.fullmatch(cleaned):
        raise InvalidInputError(f"{email!r} is not an email address like ada@lab.example; fix it or leave it out.")
    return cleaned


def add_account(engine: Engine, name: str, password: str, *, admin: bool = False, email: str = "") -> Member:
    account = Account(name=check_name(name), password_hash=hash_password(check_password(password)),
                      is_admin=admin, email=check_email(email))
    with session_scope(engine) as session:
        return _member(repo.add_account(session, account))


def list_members(engine: Engine) -> list[Member]:
    with session_scope(engine) as session:
        return [_member(account) for account in repo.list_accounts(session)]


def _find(session: Session, name: str) -> Account:
    account = repo.find_account(session, name)
    if account is None:
        raise NotFoundError(f"There is no account named {name!r}; `segstudio user list` lists them.")
    return account


def set_password(engine: Engine, name: str, password: str) -> Member:
    """A new password for ``name`` (an admin's reset or the user's own change); its other sessions end."""
    stored = hash_password(check_password(password))
    with session_scope(engine) as session:
        account = _find(session, name)
        return _member(repo.update_account(session, account, password_hash=stored, password_changed_at=utcnow()))


def change_own_password(engine: Engine, account_id: int, current: str, new: str, repeated: str) -> Member:
    """The signed-in user's change of their own password: the current one is asked again."""
    with session_scope(engine) as session:
        account = repo.get_account(session, account_id)
        if account is None:
            raise NotFoundError("This account no longer exists; ask an admin.")
        if not verify_password(current, account.password_hash):
            raise InvalidInputError("The current password is not right; nothing was changed.")
        name = account.name
    if new != repeated:
        raise InvalidInputError("The two new passwords differ; type the same new password twice.")
    if new == current:
        raise InvalidInputError("The new password is the current one; choose another.")
    return set_password(engine, name, new)


def set_disabled(engine: Engine, name: str, disabled: bool = True) -> Member:
    """Disable (or enable again) ``name``: a disabled account cannot sign in and its sessions end. The last
    enabled admin cannot be disabled (nobody could manage the accounts any more)."""
    with session_scope(engine) as session:
        account = _find(session, name)
        if disabled and account.is_admin and not account.disabled and repo.count_admins(session) <= 1:
            raise InvalidInputError(
                f"{account.name!r} is the only enabled admin; make another admin first "
                "(`segstudio user add NAME --admin`), then disable this one.")
        return _member(repo.update_account(session, account, disabled=disabled))


@cache
def _decoy_hash() -> str:
    """A hash to check unknown names against, so that they take as long as known ones."""
    return hash_password("not-an-account-password")


def authenticate(engine: Engine, name: str, password: str) -> Member | None:
    """The account when ``name`` and ``password`` match an enabled account, else None (a wrong password, an
    unknown or disabled account: the caller cannot tell them apart, nor can an attacker by the time taken)."""
    with session_scope(engine) as session:
        account = repo.find_account(session, name) if isinstance(name, str) and name.strip() else None
        stored = account.password_hash if account is not None else _decoy_hash()
        member = _member(account) if account is not None else None
    if not verify_password(password if isinstance(password, str) else "", stored):
        return None
    return member if member is not None and not member.disabled else None


def session_member(settings: Settings, engine: Engine, account_id: int, signed_in_at: datetime) -> Member | None:
    """The account of a session signed in at ``signed_in_at``, or None when that session has ended: expired
    (``settings.session_hours``), the account disabled or deleted, or its password changed since."""
    with session_scope(engine) as session:
        account = repo.get_account(session, account_id)
        member = _member(account) if account is not None else None
    if member is None or member.disabled:
        return None
    if member.password_changed_at > signed_in_at:
        return None
    if utcnow() - signed_in_at > timedelta(hours=settings.session_hours):
        return None
    return member


TOKEN_PREFIX = "sst_"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def new_token(engine: Engine, name: str, label: str = "") -> str:
    """A new API token for account ``name`` (for SEGSTUDIO_TOKEN); only its hash is kept, so it is shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        account = _find(session, name)
        repo.add_token(session, ApiToken(account_id=account.id, token_hash=_token_hash(token),  # type: ignore[arg-type]
                                         label=label[:100]))
    return token


def token_member(engine: Engine, token: str) -> Member | None:
    """The enabled account of ``token``, or None (unknown token, disabled account)."""
    if not isinstance(token, str) or not token.strip().startswith(TOKEN_PREFIX):
        return None
    with session_scope(engine) as session:
        row = repo.find_token(session, _token_hash(token))
        account = repo.get_account(session, row.account_id) if row is not None else None
        member = _member(account) if account is not None else None
    return member if member is not None and not member.disabled else None
