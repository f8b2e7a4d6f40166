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
    p = usub.add_parser("list", help="list the accounts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_user_list)
