"""Replacing a file so that a reader (or a crash) sees the old bytes or the new ones, never half.

One way for every file tina writes whole: a temporary file beside the target, its mode set
explicitly (whatever the umask), the data written and synced, renamed over the target, and the
directory synced so the rename itself survives a power cut. Standard library only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["sync_directory", "write_atomic"]


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, dir_mode: int = 0o777) -> None:
    """Replace `path` with `data`, with permissions `mode`. A missing directory is created with
    `dir_mode` (under the umask). On any error the temporary file is removed and the target is
    left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable; a file system that cannot sync a directory is
    left as it is (the rename has happened either way)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
