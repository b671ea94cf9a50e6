"""An on-disk cache of data derived from files (the compiled formulary, the validated policy
suite), keyed by a digest of the content of every file it came from: a changed file is a new
key, never a stale answer. `$CPE_CACHE_DIR`, else the user cache folder; `CPE_NO_CACHE=1` turns
it off. A cache that cannot be read or written is simply not used.

Every entry is signed (HMAC-SHA256 over its name and bytes) with a key kept outside the cache
folder (`$CPE_CACHE_KEY_FILE`, else `cache.key` in the user config folder, created 0600): a file
written or edited in the cache folder by anyone without that key is never read back, so cached
data can neither run code (the suite snapshot) nor change an answer (the compiled formulary).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

MAGIC = b"cpe-cache-1\n"
_TAG = 32  # bytes of HMAC-SHA256


def enabled() -> bool:
    from engine.settings import setting

    return not setting("no_cache") and signing_key() is not None


def cache_dir() -> Path:
    from engine.settings import setting

    env = setting("cache_dir")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("cpe"))


def key_file() -> Path:
    from engine.settings import setting

    env = setting("cache_key_file")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("cpe")) / "cache.key"


def signing_key() -> bytes | None:
    """The cache's secret key, made on first use; None (no cache) when it cannot be had or would
    sit inside the cache folder (then whoever can write the cache could sign it)."""
    return _signing_key(str(key_file()), str(cache_dir()))


@lru_cache(maxsize=4)
def _signing_key(path_text: str, cache_text: str) -> bytes | None:
    path = Path(path_text).absolute()
    try:
        if path.resolve().is_relative_to(Path(cache_text).resolve()):
            return None
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            from engine.keyfiles import create_secret_file

            create_secret_file(path, os.urandom(32))   # whole or not at all; else the other process's
            key = path.read_bytes()
    except (OSError, RuntimeError):
        return None
    return key if len(key) >= 32 else None


def _tag(key: bytes, name: str, data: bytes) -> bytes:
    return hmac.new(key, name.encode("utf-8") + b"\0" + data, hashlib.sha256).digest()


def source_key(files: Iterable[Path], *extra: Any) -> str:
    """A digest of `extra` and the path and content of each file (a missing file counts too)."""
    h = hashlib.sha256(json.dumps(list(map(str, extra))).encode())
    for p in files:
        try:
            data = p.read_bytes()
            h.update(f"\0{p}\0{len(data)}\0".encode("utf-8", "backslashreplace") + data)
        except OSError:
            h.update(f"\0{p}\0missing\0".encode("utf-8", "backslashreplace"))
    return h.hexdigest()[:24]


#: The older name: the key was once the files' size and mtime; it is their content now.
stat_key = source_key


def read(name: str) -> bytes | None:
    """The bytes written under `name`, only if they carry this installation's signature."""
    key = signing_key() if enabled() else None
    if key is None:
        return None
    try:
        raw = (cache_dir() / name).read_bytes()
    except OSError:
        return None
    head, tag, data = raw[:len(MAGIC)], raw[len(MAGIC):len(MAGIC) + _TAG], raw[len(MAGIC) + _TAG:]
    if head != MAGIC or not hmac.compare_digest(tag, _tag(key, name, data)):
        return None  # not ours, or edited: rebuilt from the sources, never trusted
    return data


def write(name: str, data: bytes, replaces: str | None = None) -> None:
    """Write atomically and signed; then remove the entries matching the glob `replaces` (older keys)."""
    key = signing_key() if enabled() else None
    if key is None:
        return
    path = cache_dir() / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(MAGIC + _tag(key, name, data) + data)
        os.replace(tmp, path)
        if replaces:
            for old in path.parent.glob(replaces):
                if old != path:
                    old.unlink(missing_ok=True)
    except OSError:
        pass
