"""`segstudio user …`: the lab accounts from the command line (:mod:`core.accounts`)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from core import accounts
from core.config import Settings
from core.db.engine import make_engine
from core.errors import SegStudioError


def _password(args: argparse.Namespace, prompt: str) -> str:
    """The new password: one line of stdin with --password-stdin (scripts), else typed twice without echo."""
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise SegStudioError("no password on stdin; pipe one line into the command")
        return line.removesuffix("\n").removesuffix("\r")
    password = getpass.getpass(prompt)
    if password != getpass.getpass("The same again: "):
        raise SegStudioError("the two passwords differ; nothing was changed, run the command again")
    return password


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    accounts.check_name(args.name)  # before asking for a password
    accounts.check_email(args.email)
    member = accounts.add_account(engine, args.name, _password(args, f"Password for {args.name}: "),
                                  admin=args.admin, email=args.email)
    print(f"Added {'admin ' if member.is_admin else ''}account {member.name!r}.")
    if member.is_admin and not settings.accounts:
        print("Accounts are on from now: every page of the app asks for a name and a password.", file=sys.stderr)
    return 0


def cmd_user_passwd(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    member = accounts.set_password(engine, args.name, _password(args, f"New password for {args.name}: "))
    print(f"Changed the password of {member.name!r}; its open sessions have ended.")
    return 0


def cmd_user_disable(args: argparse.Namespace, settings: Settings) -> int:
    member = accounts.set_disabled(make_engine(settings.database_url), args.name, disabled=not args.enable)
    print(f"{'Disabled' if member.disabled else 'Enabled'} {member.name!r}.")
    return 0


def cmd_user_list(args: argparse.Namespace, settings: Settings) -> int:
    members = accounts.list_members(make_engine(settings.database_url))
    if args.json:
        print(json.dumps([{"name": m.name, "admin": m.is_admin, "disabled": m.disabled,
                           "created": m.created_at.isoformat()} for m in members]))
        return 0
    if not members:
        print(f"No accounts. Accounts are {'on' if settings.accounts else 'off'}; to add the first admin, "
              f"{accounts.ADD_FIRST_ADMIN}.")
    for m in members:
        flags = ", ".join(f for f, on in (("admin", m.is_admin), ("disabled", m.disabled)) if on)
        print(f"{m.name}{f' ({flags})' if flags else ''} · since {m.created_at:%Y-%m-%d}")
    return 0


def cmd_user_token(args: argparse.Namespace, settings: Settings) -> int:
    token = accounts.new_token(make_engine(settings.database_url), args.name, args.label)
    print(f"export SEGSTUDIO_TOKEN={token}")
    print(f"A token for {args.name!r}: scripts that set SEGSTUDIO_TOKEN act as this account. It is shown only "
          "now; keep it like a password.", file=sys.stderr)
    return 0


#: commands that need no account when accounts are on: the accounts themselves, the lab password, the worker
#: (whoever can run these on the machine that holds the data directory administers segstudio)
NO_ACCOUNT_NEEDED = ("user", "password", "worker")


def command_line_account(args: argparse.Namespace, settings: Settings) -> accounts.Member | None:
    """Who runs this command, with accounts on: SEGSTUDIO_TOKEN's account, or ``--user NAME`` with the password
    typed; None with accounts off or for :data:`NO_ACCOUNT_NEEDED`. Raises when nobody can be named."""
    engine = make_engine(settings.database_url)
    if args.command in NO_ACCOUNT_NEEDED or not accounts.accounts_on(settings, engine):
        return None
    if settings.api_token:
        member = accounts.token_member(engine, settings.api_token)
        if member is None:
            raise SegStudioError("SEGSTUDIO_TOKEN is not a token of an enabled account; make a new one with "
                                 "`segstudio user token NAME`.")
        return member
    if not args.user:
        raise SegStudioError("lab accounts are on: say who you are with `segstudio --user NAME …` (it asks for "
                             "your password) or set SEGSTUDIO_TOKEN to a token from `segstudio user token NAME`")
    member = accounts.authenticate(engine, args.user, getpass.getpass(f"Password for {args.user}: "))
    if member is None:
        raise SegStudioError("that name and password do not match an enabled account")
    return member


def add_user_commands(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="lab accounts: add, change a password, disable, list")
    usub = user.add_subparsers(dest="action", required=True)
    p = usub.add_parser("add", help="add an account (the first admin turns accounts on)")
    p.add_argument("name")
    p.add_argument("--admin", action="store_true", help="may manage the accounts")
    p.add_argument("--email", default="", help="where the ends of this account's trainings are mailed")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.set_defaults(handler=cmd_user_add)
    p = usub.add_parser("passwd", help="set a new password for an account (its open sessions end)")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.set_defaults(handler=cmd_user_passwd)
    p = usub.add_parser("disable", help="disable an account (it cannot sign in; its sessions end)")
    p.add_argument("name")
    p.add_argument("--enable", action="store_true", help="enable it again instead")
    p.set_defaults(handler=cmd_user_disable)
    p = usub.add_parser("token", help="make an API token for scripts (SEGSTUDIO_TOKEN) acting as an account")
    p.add_argument("name")
    p.add_argument("--label", default="", help="what the token is for (e.g. nightly import)")
    p.set_defaults(handler=cmd_user_token)
    p = usub.add_parser("list", help="list the accounts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_user_list)
