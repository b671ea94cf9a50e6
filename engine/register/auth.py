"""Who may do what over HTTP: bearer tokens mapped to a named person and one role.

Roles (docs/register.md): prescriber reads; ifr_officer creates and screens (and reads);
panel decides (and reads); admin manages the register (verify, export, signals; and reads).
Separation of duties: an admin does not create cases or make panel decisions.

Tokens come from CPE_API_TOKENS ("role:name:token", comma-separated) and/or the file named by
CPE_API_TOKENS_FILE (a JSON or YAML list of {name, role, token} or {name, role, token_sha256});
a file can hold only hashes, so it never has to contain a usable secret.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError

ROLES = ("prescriber", "ifr_officer", "panel", "admin")
READ = frozenset(ROLES)
CREATE = frozenset({"ifr_officer"})
MANAGE = frozenset({"admin"})


@dataclass(frozen=True)
class Principal:
    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Tokens:
    def __init__(self, entries: list[tuple[str, Principal]]):
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, token: str) -> Principal | None:
        """Constant-time comparison against every entry's hash."""
        h = _digest(token)
        found = None
        for digest, who in self._entries:
            if hmac.compare_digest(digest, h):
                found = who
        return found


def _entry(name: object, role: object, token: object = None, token_sha256: object = None,
           where: str = "") -> tuple[str, Principal]:
    if role not in ROLES:
        raise InputError.of("bad-token-config", f"{where}role {role!r} is not one of {', '.join(ROLES)}")
    if not isinstance(name, str) or not name:
        raise InputError.of("bad-token-config", f"{where}every token needs a name")
    if isinstance(token_sha256, str) and len(token_sha256) == 64:
        return token_sha256.lower(), Principal(name, str(role))
    if isinstance(token, str) and len(token) >= 16:
        return _digest(token), Principal(name, str(role))
    raise InputError.of("bad-token-config", f"{where}token for {name!r} must be at least 16 characters "
                                            "(or give token_sha256)")


def load_tokens() -> Tokens:
    entries: list[tuple[str, Principal]] = []
    from engine.settings import setting

    for item in filter(None, (x.strip() for x in (setting("api_tokens") or "").split(","))):
        parts = item.split(":", 2)
        if len(parts) != 3:
            raise InputError.of("bad-token-config", "CPE_API_TOKENS entries are role:name:token")
        entries.append(_entry(parts[1], parts[0], token=parts[2], where="CPE_API_TOKENS: "))
    path = setting("api_tokens_file")
    if path:
        from engine.language.source import load_file  # the strict reader: JSON as JSON, YAML 1.2 core

        data = load_file(Path(path))
        if not isinstance(data, list):
            raise InputError.of("bad-token-config", f"{path}: expected a list of tokens")
        for item in data:
            if not isinstance(item, dict):
                raise InputError.of("bad-token-config", f"{path}: each token is a mapping")
            entries.append(_entry(item.get("name"), item.get("role"), item.get("token"), item.get("token_sha256"),
                                  f"{path}: "))
    return Tokens(entries)
