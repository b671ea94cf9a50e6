"""Secret files the engine creates for itself (the register's chain key, the cache's signing key).

Created whole or not at all: the secret is written to a private temporary file beside the target
and hard-linked into place, so two processes starting at once (the service's workers) never see
an empty or half-written key — the second one's link fails and it reads the first one's file.
Part of the base layer (with engine.errors, engine.settings, engine.data, engine.extras).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def create_secret_file(path: Path, content: bytes) -> bool:
    """Write `content` to `path` (mode 0600) unless the file exists; True when this call made it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)   # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)   # atomic, and fails if another process got there first
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)
