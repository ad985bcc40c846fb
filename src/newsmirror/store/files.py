"""Archive files: atomic, confined to the archive folder, never rewritten when unchanged.

With ``[archive] fsync = false`` the temp + rename stays (a killed process still never
leaves half a file) but nothing waits for the disk: a power cut may then lose the last
files written, which the next run writes again since the catalog commits after the files
(and SQLite's own durability follows the same setting).

Each file is written to a temporary file in ``.newsmirror/tmp/`` (same file system, outside
git's sight, so a killed run never leaves a stray temp file in a commit), fsynced, renamed
over its target, and each touched folder is fsynced once per batch: a crash leaves either the
old file or the new one, never half of one.

Writes go in batches (one source's files) so the caller can run a batch in a worker thread:
fsync waits release the GIL, and parsing the next feed overlaps the disk's work.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import ArchiveError

TMP_DIR = Path(".newsmirror") / "tmp"


def check_relpath(relpath: str) -> list[str]:
    """The components of a safe relative path, or :class:`ArchiveError`."""
    if not relpath or relpath.startswith(("/", "\\")) or "\0" in relpath:
        raise ArchiveError(f"refusing archive path {relpath!r}: not a relative path")
    parts = relpath.replace("\\", "/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ArchiveError(f"refusing archive path {relpath!r}: empty, '.' or '..' component")
    return parts


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


class ArchiveWriter:
    """Writes files under one archive root.  Safe to use from one worker thread at a time
    per batch; batches of different sources may run concurrently."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync
        self.root_resolved = root.resolve()
        self.tmp = root / TMP_DIR
        self._safe_dirs: set[str] = set()
        self._lock = threading.Lock()
        self._names = itertools.count()

    def clear_temps(self) -> None:
        """Remove what a killed run left in the temp folder."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def target(self, relpath: str) -> str:
        """The absolute path for ``relpath``; its folder is checked once for escapes.

        The last component needs no check: ``os.replace`` replaces a symbolic link there
        instead of writing through it.
        """
        parts = check_relpath(relpath)
        folder = os.path.join(self.root, *parts[:-1])
        if folder not in self._safe_dirs:
            os.makedirs(folder, exist_ok=True)
            if not Path(folder).resolve().is_relative_to(self.root_resolved):
                raise ArchiveError(f"refusing archive path {relpath!r}: escapes {self.root}")
            with self._lock:
                self._safe_dirs.add(folder)
        return os.path.join(folder, parts[-1])

    def _write(self, target: str, data: bytes) -> None:
        tmp = os.path.join(self.tmp, f"{os.getpid()}-{next(self._names)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self.fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.close(fd)
        os.replace(tmp, target)

    def write_batch(
        self, files: Sequence[tuple[str, bytes]], stop: Callable[[], bool] = lambda: False
    ) -> list[bool]:
        """Write each ``(relpath, data)`` unless the file already holds exactly ``data``.

        Returns, per file handled, whether it was written; stops early (shorter list) when
        ``stop()`` turns true, always between two files.
        """
        written: list[bool] = []
        folders: set[str] = set()
        try:
            for relpath, data in files:
                if stop():
                    break
                target = self.target(relpath)
                try:
                    with open(target, "rb") as f:
                        same = f.read(len(data) + 1) == data
                except FileNotFoundError:
                    same = False
                if not same:
                    self._write(target, data)
                    folders.add(os.path.dirname(target))
                written.append(not same)
        except OSError as e:
            raise ArchiveError(f"cannot write {e.filename or self.root}: {e.strerror}") from e
        finally:
            if self.fsync:
                for folder in folders:
                    _fsync_dir(folder)
        return written

    def write_if_changed(self, relpath: str, data: bytes) -> bool:
        """One file; True if it was written."""
        return self.write_batch([(relpath, data)])[0]
