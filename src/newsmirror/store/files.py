"""Archive files: atomic, confined to the archive folder, never rewritten when unchanged.

A file is written to a temporary name in its own folder, fsynced, renamed over the old one,
and the folder fsynced: a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..errors import ArchiveError


def resolve_inside(root: Path, relpath: str) -> Path:
    """``root/relpath``, refusing any path that would land outside ``root``."""
    if not relpath or relpath.startswith(("/", "\\")) or "\0" in relpath:
        raise ArchiveError(f"refusing archive path {relpath!r}: not a relative path")
    parts = relpath.replace("\\", "/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ArchiveError(f"refusing archive path {relpath!r}: empty, '.' or '..' component")
    target = root.joinpath(*parts)
    root_resolved = root.resolve()
    if not target.resolve().is_relative_to(root_resolved):
        raise ArchiveError(f"refusing archive path {relpath!r}: escapes {root}")
    return target


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` via temp file + fsync + rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:40]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def write_if_changed(root: Path, relpath: str, data: bytes) -> bool:
    """Write the file unless it already holds exactly ``data``; True if it was written."""
    target = resolve_inside(root, relpath)
    try:
        if target.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as e:
        raise ArchiveError(f"cannot read {target}: {e.strerror}") from e
    try:
        atomic_write(target, data)
    except OSError as e:
        raise ArchiveError(f"cannot write {target}: {e.strerror}") from e
    return True


def remove_stale_temps(root: Path) -> int:
    """Delete temp files a killed run left behind; returns how many."""
    n = 0
    for p in root.rglob(".*.tmp"):
        if ".git" in p.parts:
            continue
        try:
            p.unlink()
            n += 1
        except OSError:
            pass
    return n
