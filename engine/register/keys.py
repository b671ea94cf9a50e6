"""The register's secret keys, kept outside the database.

Each audit entry's `hash` is an HMAC-SHA256 under one of these keys, so someone who can write
to the database but not read the key cannot recompute the chain after editing it. Keys come
from `CPE_REGISTER_KEY` (one secret, or several separated by spaces: the last signs), else the
file `CPE_REGISTER_KEY_FILE`, else `register.key` in the user's config folder (created on the
first write, mode 0600). A file holds one secret a line, oldest first; the last line signs new
entries and every line verifies old ones, so rotating is appending a line (docs/register.md).
A key is known by its id, a hash of the secret that reveals nothing of it.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.language.canonical import canonical_json
from engine.settings import setting

ENV_KEY = "CPE_REGISTER_KEY"  # named in messages
ENV_FILE = "CPE_REGISTER_KEY_FILE"
MIN_LENGTH = 32  # characters of secret: 128 bits as hex, at the least


def key_id(secret: bytes) -> str:
    return "k-" + hashlib.sha256(b"cpe register key id\0" + secret).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]  # id → secret
    active: str              # the id that signs new entries
    source: str              # where the keys came from, for messages (never the secrets)

    def mac(self, kid: str, data: Any) -> str:
        """HMAC-SHA256 of the canonical JSON of `data` under key `kid` (KeyError if unknown)."""
        return hmac.new(self.keys[kid], canonical_json(data).encode("utf-8"), hashlib.sha256).hexdigest()

    def check(self, kid: Any, data: Any, mac: str) -> str | None:
        """None when `mac` is right; else why not."""
        if not isinstance(kid, str) or not kid:
            return "carries no key id: it was not written by the register (or predates keyed chains)"
        if kid not in self.keys:
            return f"was signed with key {kid}, which is not in the keyring ({self.source})"
        if not hmac.compare_digest(self.mac(kid, data), mac or ""):
            return f"its MAC does not verify under key {kid}: altered after it was written, or forged without the key"
        return None


def default_file() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("cpe", appauthor=False)) / "register.key"


def _parse(lines: list[str], where: str) -> list[bytes]:
    out = []
    for n, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if len(text) < MIN_LENGTH:
            raise InputError.of("bad-register-key", f"{where}:{n}: a register key must be at least {MIN_LENGTH} "
                                                    "characters (e.g. 64 hex digits)")
        out.append(text.encode("utf-8"))
    return out


def load(create: bool = False) -> Keyring | None:
    """The configured keyring; with `create`, a new key file at the default place when none is
    configured; else None when there is no key anywhere."""
    env = (setting("register_key") or "").strip()
    if env:
        found, source = _parse(env.split(), ENV_KEY), ENV_KEY
    else:
        path = Path(setting("register_key_file") or default_file()).expanduser()
        if not path.exists():
            if not create:
                return None
            _create(path)   # or, if another process made it first, read theirs
        try:
            found = _parse(path.read_text(encoding="utf-8").splitlines(), str(path))
        except OSError as exc:
            raise InputError.of("bad-register-key", f"cannot read the register key file {path}: {exc.strerror}") from None
        source = str(path)
    if not found:
        raise InputError.of("bad-register-key", f"no register key in {source}")
    keys = {key_id(k): k for k in found}
    return Keyring(keys=keys, active=key_id(found[-1]), source=source)


def _create(path: Path) -> None:
    """A new key file (whole, or left to the process that made it first: engine.keyfiles)."""
    from engine.keyfiles import create_secret_file

    create_secret_file(path, ("# cpe register keys, oldest first; the last signs new audit entries. Keep this file "
                              "out of\n# reach of anyone who can write to the register's database "
                              "(docs/register.md).\n" + secrets.token_hex(32) + "\n").encode("utf-8"))
