"""Checkpoints: the chain's head, anchored outside the database.

After every committed write the register appends one line to a checkpoint file, JSON with the
head's sequence number and hash, the time, and an HMAC under the register key:
`{"seq", "hash", "at", "key", "mac"}`. `register verify` checks the chain against every line, so
deleting the newest entries (and their rows) or rewriting the chain shows as a mismatch with
a checkpoint, even though what is left in the database is self-consistent. The file is
`CPE_REGISTER_CHECKPOINTS`, else one per database in the user's data folder. Lines are appended
under an exclusive lock and fsynced; a line torn by a crash is ignored.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.language.canonical import plain
from engine.register.chain import now
from engine.settings import setting

if TYPE_CHECKING:
    from engine.register.keys import Keyring



def default_file(url: str) -> Path:
    """One checkpoint file per database (named by a hash of its URL without the password)."""
    from platformdirs import user_data_dir

    from engine.register.db import safe_url

    name = hashlib.sha256(safe_url(url).encode()).hexdigest()[:16]
    return Path(user_data_dir("cpe", appauthor=False)) / "checkpoints" / f"{name}.jsonl"


def file_for(url: str) -> Path:
    return Path(setting("register_checkpoints") or default_file(url)).expanduser()


@dataclass(frozen=True)
class Checkpoint:
    line: int
    seq: int
    hash: str
    at: str
    key: str

    def to_json(self, path: Path) -> dict[str, Any]:
        return {"file": str(path), "line": self.line, "seq": self.seq, "hash": self.hash, "at": self.at,
                "key": self.key}


def _signed(seq: int, head: str, at: str, key: str) -> dict[str, Any]:
    return {"what": "cpe register checkpoint", "seq": seq, "hash": head, "at": at, "key": key}


def append(path: Path, keys: Keyring, seq: int, head: str) -> None:
    """Anchor (seq, head): one signed line, appended under a lock and fsynced."""
    at = plain(now())
    line = {"seq": seq, "hash": head, "at": at, "key": keys.active,
            "mac": keys.mac(keys.active, _signed(seq, head, at, keys.active))}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"  # a line cut short by a crash
        os.write(fd, (b"\n" if torn else b"") + json.dumps(line, sort_keys=True).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: Path, keys: Keyring) -> tuple[list[Checkpoint], list[tuple[int, str]]]:
    """The valid checkpoints, and (line, why) for each line that is not one."""
    good: list[Checkpoint] = []
    bad: list[tuple[int, str]] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return good, bad
    lines = text.split("\n")
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
            seq, head, at, kid, mac = int(d["seq"]), str(d["hash"]), str(d["at"]), d["key"], str(d["mac"])
        except (ValueError, KeyError, TypeError):
            if _torn(lines, n):
                continue  # cut short by a crash while appending: not a claim about the chain
            bad.append((n, "is not a checkpoint (unreadable)"))
            continue
        why = keys.check(kid, _signed(seq, head, at, kid), mac)
        if why:
            bad.append((n, why))
        else:
            good.append(Checkpoint(n, seq, head, at, kid))
    return good, bad


def _torn(lines: list[str], n: int) -> bool:
    """A line that a later append started afresh after (append() writes a newline first)."""
    return not lines[n - 1].rstrip().endswith("}")
