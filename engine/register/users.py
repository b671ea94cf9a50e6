"""Accounts for the casework pages: a username, a role and an argon2 password hash.

The API keeps its bearer tokens (engine.register.auth); these accounts are for people signing
in to the pages. Roles: `ifr_officer` records and screens requests and sends letters; `panel`
records panel decisions; `admin` verifies the register; `policy_group` (the policy development
group) saves draft policy versions from the workbench; `read_only` reads. Every change to an
account, every sign-in and every refused sign-in is an audit entry in the register's chain
(written by Register.record), and the lock-out after repeated failures is counted from those
entries, so there is no counter to reset behind the chain's back.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, DateTime, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from engine.errors import InputError
from engine.register.chain import now
from engine.register.models import Base
from engine.settings import setting

if TYPE_CHECKING:
    from engine.register.store import Register

ROLES = ("ifr_officer", "panel", "admin", "policy_group", "read_only")
ROLE_WORDS = {"ifr_officer": "IFR officer", "panel": "Panel member", "admin": "Administrator",
              "policy_group": "Policy group member", "read_only": "Read-only"}
ROLE_NOUNS = {"ifr_officer": "an IFR officer", "panel": "a panel member", "admin": "an administrator",
              "policy_group": "a policy group member", "read_only": "a read-only user"}
MIN_PASSWORD = 12
SIGNED_IN, REFUSED, LOCKED = "user.signed_in", "user.sign_in_refused", "user.locked_out"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


class User(Base):
    """One person who may sign in to the casework pages."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))


@dataclass(frozen=True)
class Account:
    """What the pages know about a signed-in person (never the hash)."""

    username: str
    full_name: str
    role: str
    disabled: bool = False

    @property
    def actor(self) -> str:
        """As the API records its callers: role:name."""
        return f"{self.role}:{self.username}"

    @property
    def role_words(self) -> str:
        return ROLE_WORDS[self.role]

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "full_name": self.full_name, "role": self.role,
                "disabled": self.disabled}


class LockedOut(InputError):
    """Too many refused sign-ins in a row: the account waits before it may try again."""


def max_failures() -> int:
    return int(setting("login_max_failures"))


def lock_minutes() -> int:
    return int(setting("login_lock_minutes"))


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's current recommended parameters


def _account(u: User) -> Account:
    return Account(u.username, u.full_name, u.role, bool(u.disabled))


def _find(s: Any, username: str) -> User | None:
    from sqlalchemy import select

    return s.scalar(select(User).where(User.username == username))


def add_user(reg: Register, username: str, role: str, password: str, *, full_name: str | None = None,
             actor: str) -> Account:
    """A new account; refused (InputError) for a taken name, an unknown role or a short password."""
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise InputError.of("bad-username", f"username {username!r} must be 2-63 lower-case letters, digits, "
                                            "'.', '_' or '-'")
    if role not in ROLES:
        raise InputError.of("bad-role", f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise InputError.of("weak-password", f"the password must be at least {MIN_PASSWORD} characters")
    hashed = _hasher().hash(password)

    def write(s: Any) -> None:
        if _find(s, username) is not None:
            raise InputError.of("user-exists", f"there is already a user {username!r}")
        s.add(User(username=username, full_name=(full_name or username).strip(), role=role,
                   password_hash=hashed, disabled=False, created_at=now(), created_by=actor))

    reg.record(actor, "user.added", {"username": username, "role": role}, write=write)
    return Account(username, (full_name or username).strip(), role)


def disable_user(reg: Register, username: str, *, actor: str) -> Account:
    """Stop an account signing in (its sessions end at their next request)."""
    found: list[User] = []

    def write(s: Any) -> None:
        u = _find(s, username.strip().lower())
        if u is None:
            raise InputError.of("unknown-user", f"no user {username!r}", hint="`cpe user list` shows them")
        u.disabled = True
        found.append(u)

    reg.record(actor, "user.disabled", {"username": username.strip().lower()}, write=write)
    return _account(found[0])


def list_users(reg: Register) -> list[Account]:
    from sqlalchemy import select

    with reg.Session() as s:
        return [_account(u) for u in s.scalars(select(User).order_by(User.username))]


def get_user(reg: Register, username: str) -> Account | None:
    """The account if it exists and is not disabled (checked on every request of a session)."""
    with reg.Session() as s:
        u = _find(s, username)
        return _account(u) if u is not None and not u.disabled else None


def locked_until(reg: Register, username: str) -> dt.datetime | None:
    """When the lock-out ends, if the last `max_failures()` sign-ins were all refused within one
    lock period; None when the account may try now."""
    period = dt.timedelta(minutes=lock_minutes())
    recent = [e for e in reg.entries((SIGNED_IN, REFUSED), since=now() - 2 * period)
              if e.get("username") == username]
    streak: list[dt.datetime] = []
    for e in recent:
        streak = [] if e["action"] == SIGNED_IN else streak + [_at(e["at"])]
    if len(streak) < max_failures():
        return None
    tail = streak[-max_failures():]
    until = tail[-1] + period
    return until if tail[-1] - tail[0] <= period and now() < until else None


def _at(text: str) -> dt.datetime:
    at = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def authenticate(reg: Register, username: str, password: str) -> Account | None:
    """The account for a right password, else None; LockedOut while the account is locked.
    Unknown names cost the same hashing work as known ones, and are refused in the same words."""
    from argon2.exceptions import InvalidHashError, VerificationError

    username = username.strip().lower()[:100]
    until = locked_until(reg, username)
    if until is not None:
        raise LockedOut.of("locked-out", f"too many refused sign-ins: try again after {until:%H:%M} UTC")
    with reg.Session() as s:
        u = _find(s, username)
        stored = u.password_hash if u is not None else _dummy_hash()
        ok = False
        try:
            ok = _hasher().verify(stored, password)
        except (VerificationError, InvalidHashError):
            ok = False
        ok = ok and u is not None and not u.disabled
        account = _account(u) if ok and u is not None else None
    reg.record(f"web:{username}", SIGNED_IN if ok else REFUSED, {"username": username})
    if not ok and locked_until(reg, username) is not None:
        reg.record(f"web:{username}", LOCKED, {"username": username, "minutes": lock_minutes()})
    return account


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(_hasher().hash("not a password of anyone's"))
    return _DUMMY[0]
