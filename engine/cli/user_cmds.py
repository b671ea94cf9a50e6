"""`cpe user add/list/disable`: accounts for the casework pages (engine.register.users).

The password is asked for twice on the terminal (never an argument, which would land in the
shell's history), or read from standard input with --password-stdin for scripts.
"""
from __future__ import annotations

import sys

import typer

from engine.cli.common import Format, FormatOpt, app, print_json, print_lines

user_app = typer.Typer(no_args_is_help=True, help="Accounts for the casework pages: add, list, disable.")
app.add_typer(user_app, name="user")


def _register():
    from engine.register.store import Register

    return Register()


def _actor() -> str:
    from engine.cli.register_cmds import _actor as actor

    return actor()


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="the sign-in name, e.g. a.patel"),
    role: str = typer.Option(..., "--role", "-r", help="ifr_officer, panel, admin, policy_group or read_only"),
    full_name: str = typer.Option(None, "--name", help="the person's name, shown on the pages"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from standard input"),
) -> None:
    """Add an account; the password is hashed with argon2 and never stored or logged in clear."""
    from engine.errors import InputError
    from engine.register.users import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():   # no terminal to ask on (a script, CI): say how, rather than "Aborted."
        raise InputError.of("no-password", "no terminal to ask for the password on",
                            hint="pipe it in with --password-stdin, e.g. printf '%s\\n' \"$PW\" | cpe user add ...")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise InputError.of("no-password", "give a password (on the terminal or with --password-stdin)")
    with _register() as reg:
        acc = add_user(reg, username, role, password, full_name=full_name, actor=_actor())
    print(f"added {acc.username} ({acc.role_words})")


@user_app.command("list")
def user_list(fmt: Format = FormatOpt) -> None:
    """Every account with its role and whether it is disabled."""
    from engine.register.users import list_users

    with _register() as reg:
        accounts = list_users(reg)
    if fmt == Format.json:
        print_json([a.to_json() for a in accounts])
        return
    print_lines([("dim" if a.disabled else "", f"{a.username}\t{a.role}\t{a.full_name}"
                  + ("\tdisabled" if a.disabled else "")) for a in accounts])


@user_app.command("disable")
def user_disable(username: str = typer.Argument(..., help="the account to disable")) -> None:
    """Stop an account signing in; its open sessions end at their next request."""
    from engine.register.users import disable_user

    with _register() as reg:
        acc = disable_user(reg, username, actor=_actor())
    print(f"disabled {acc.username}")
