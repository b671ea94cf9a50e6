"""An on-disk cache of data derived from files (the compiled formulary, the validated policy
suite), keyed by the path, size and mtime of every file it came from: a changed file is a new
key, never a stale answer. `$CPE_CACHE_DIR`, else the user cache folder; `CPE_NO_CACHE=1` turns
it off. A cache that cannot be read or written is simply not used.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable


def enabled() -> bool:
    from engine.settings import setting

    return not setting("no_cache")


def cache_dir() -> Path:
    from engine.settings import setting

    env = setting("cache_dir")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("cpe"))


def stat_key(files: Iterable[Path], *extra: Any) -> str:
    """A digest of `extra` and the path, mtime and size of each file (a missing file counts too)."""
    parts: list[Any] = [list(map(str, extra))]
    for p in files:
        try:
            st = p.stat()
            parts.append((str(p), st.st_mtime_ns, st.st_size))
        except OSError:
            parts.append((str(p), None))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def read(name: str) -> bytes | None:
    if not enabled():
        return None
    try:
        return (cache_dir() / name).read_bytes()
    except OSError:
        return None


def write(name: str, data: bytes, replaces: str | None = None) -> None:
    """Write atomically; then remove the entries matching the glob `replaces` (older keys)."""
    if not enabled():
        return
    path = cache_dir() / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        if replaces:
            for old in path.parent.glob(replaces):
                if old != path:
                    old.unlink(missing_ok=True)
    except OSError:
        pass
