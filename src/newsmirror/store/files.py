"""Archive files: atomic, confined to the archive folder, never rewritten when unchanged.

With ``[archive] fsync = false`` the temp + rename stays (a killed process still never
leaves half a file) but nothing waits for the disk: a power cut may then lose the last
files written, which the next run writes again since the catalog commits after the files
(and SQLite's own durability follows the same setting).

Each file is written to a hidden temporary file beside its target (``.nm-{pid}-{n}.tmp``),
fsynced, renamed over its target, and each touched folder is fsynced once per batch: a
crash leaves either the old file or the new one, never half of one.  The temporary file
is in the target's own folder because a rename across folders takes a lock of the whole
file system (and every writer thread contended for one shared temp folder): measured with
four threads writing 10,000 files, same-folder renames cost half the kernel time.  A
temporary file is never committed (git is given exact paths, and ``.nm-*.tmp`` is in the
repository's exclude list); the folders a pass writes in are logged before their first
temporary file, so the next run removes what a killed one left (:meth:`clear_temps`).

Writes go in batches (one source's files) so the caller can run a batch in a worker thread:
fsync waits release the GIL, and parsing the next feed overlaps the disk's work.

A pass writes thousands of new files, and one fsync each made the disk, not the work, set
its pace.  A batch written with ``defer_sync`` leaves its *new* files to a later
:meth:`ArchiveWriter.sync` (one ``syncfs`` of the archive's file system), which
:class:`SyncBarrier` shares among all the batches waiting for it: a group commit.  The
catalog rows of a batch are committed only after that sync, so a crash before it leaves
files the catalog does not know, which the next run writes again (a file whose bytes
differ is always rewritten).  A file that *replaces* an existing one is still fsynced
before its rename, as are all files where ``syncfs`` is missing: a crash then leaves the
old file or the new one, never an empty one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import itertools
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path

from ..errors import ArchiveError

TMP_DIR = Path(".newsmirror") / "tmp"  # where temporary files were kept before; cleared
# The folders that may hold a killed run's temporary files, NUL-separated.
TMP_FOLDERS = Path(".newsmirror") / "tmp-folders"
TMP_PREFIX, TMP_SUFFIX = ".nm-", ".tmp"
# The archive paths written since the last commit, NUL-separated: what git must stage.
# Appended before each file is renamed into place, so a killed pass never writes a file the
# journal does not name; a commit empties it.
WRITTEN = Path(".newsmirror") / "written"


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


def _load_syncfs() -> Callable[[int], int] | None:
    """Linux's ``syncfs(2)`` (Python exposes it from 3.12 on only), else None."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        fn = ctypes.CDLL(name, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_SYNCFS = _load_syncfs()


def sync_file_system(path: Path) -> None:
    """Wait until everything written to the file system holding ``path`` is on disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if _SYNCFS is not None:
            if _SYNCFS(fd) != 0:
                err = ctypes.get_errno()
                raise ArchiveError(f"cannot sync {path}: {os.strerror(err)}")
        else:
            os.sync()
    finally:
        os.close(fd)


CAN_DEFER = _SYNCFS is not None or hasattr(os, "sync")
# From this many files a batch that must be durable on return is made so by one or two
# syncs of the file system rather than an fsync per file (each a journal commit on ext4).
SHARED_SYNC_FROM = 8


class ArchiveWriter:
    """Writes files under one archive root.  Safe to use from one worker thread at a time
    per batch; batches of different sources may run concurrently."""

    def __init__(self, root: Path, *, fsync: bool = True, journal: bool = False) -> None:
        self.root = root
        self.fsync = fsync
        self.journal = root / WRITTEN if journal else None
        self.root_resolved = root.resolve()
        self.tmp = root / TMP_DIR
        self._safe_dirs: set[str] = set()
        self._lock = threading.Lock()
        self._names = itertools.count()
        self._unsynced = False

    def clear_temps(self) -> None:
        """Remove the temporary files a killed run left (in the folders it logged)."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        log = self.root / TMP_FOLDERS
        try:
            folders = log.read_bytes().decode("utf-8", "replace").split("\0")
        except OSError:
            folders = []
        for rel in dict.fromkeys(folders):
            folder = (self.root / rel).resolve()
            if not folder.is_relative_to(self.root_resolved):
                continue  # a tampered log never leads outside the archive
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith(TMP_PREFIX) and entry.name.endswith(TMP_SUFFIX):
                        with contextlib.suppress(OSError):
                            os.unlink(entry.path)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(b"")
        with self._lock:
            self._safe_dirs.clear()  # so each folder is logged again before its next temp

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
                if folder not in self._safe_dirs:
                    # Logged before any temporary file is made there (see clear_temps).
                    log = self.root / TMP_FOLDERS
                    log.parent.mkdir(parents=True, exist_ok=True)
                    with open(log, "ab") as f:
                        f.write("/".join(parts[:-1]).encode("utf-8") + b"\0")
                    self._safe_dirs.add(folder)
        return os.path.join(folder, parts[-1])

    def _write(self, target: str, data: bytes, fsync: bool, *, rename: bool = True) -> str:
        """Write ``data`` to a temporary file beside ``target`` and (``rename``) move it
        there; returns the temporary file's path."""
        name = f"{TMP_PREFIX}{os.getpid()}-{next(self._names)}{TMP_SUFFIX}"
        tmp = os.path.join(os.path.dirname(target), name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.close(fd)
        if rename:
            os.replace(tmp, target)
        return tmp

    def write_batch(
        self,
        files: Sequence[tuple[str, bytes]],
        stop: Callable[[], bool] = lambda: False,
        *,
        defer_sync: bool = False,
    ) -> list[bool]:
        """Write each ``(relpath, data)`` unless the file already holds exactly ``data``.

        Returns, per file handled, whether it was written; stops early (shorter list) when
        ``stop()`` turns true, always between two files.  With ``defer_sync`` what was written
        is durable only after the next :meth:`sync` (a replaced file's bytes are before its
        rename, by one sync for the batch); otherwise everything is on return.
        """
        if not defer_sync and self.fsync and CAN_DEFER and len(files) >= SHARED_SYNC_FROM:
            done = self.write_batch(files, stop, defer_sync=True)
            self.sync()
            return done
        defer = defer_sync and self.fsync and CAN_DEFER
        written: list[bool] = []
        folders: set[str] = set()
        # With ``defer``, a file that replaces another is renamed only after one sync has
        # made every replacement's bytes durable (a crash leaves the old file or the whole
        # new one, never an empty one), instead of one fsync per file.
        moves: list[tuple[str, str]] = []
        try:
            todo: list[tuple[str, str, bytes, bool] | None] = []
            for relpath, data in files:
                target = self.target(relpath)
                existed = True
                try:
                    with open(target, "rb") as f:
                        same = f.read(len(data) + 1) == data
                except FileNotFoundError:
                    same = existed = False
                todo.append(None if same else (relpath, target, data, existed))
            self._log([t[0] for t in todo if t is not None])
            for task in todo:
                if stop():
                    break
                if task is not None:
                    _, target, data, existed = task
                    if defer:
                        tmp = self._write(target, data, fsync=False, rename=not existed)
                        if existed:
                            moves.append((tmp, target))
                        self._unsynced = True
                    else:
                        self._write(target, data, fsync=self.fsync)
                        folders.add(os.path.dirname(target))
                written.append(task is not None)
            if moves:
                sync_file_system(self.root)  # the renames are durable at the next sync
                for tmp, target in moves:
                    os.replace(tmp, target)
                moves = []
        except OSError as e:
            raise ArchiveError(f"cannot write {e.filename or self.root}: {e.strerror}") from e
        finally:
            for tmp, _ in moves:  # not moved: the old files stay whole
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            if self.fsync:
                for folder in folders:
                    _fsync_dir(folder)
        return written

    def remove(self, relpaths: Sequence[str]) -> int:
        """Delete these files (named in the journal first, so their removal is committed
        even after a kill), then every folder this leaves empty; returns how many were
        there.  Only called once the files are safe elsewhere (a rotation)."""
        # Checked without target(), which would make (and log) the folder of a path that
        # is not there.
        present = [
            p for p in relpaths if os.path.lexists(os.path.join(self.root, *check_relpath(p)))
        ]
        self._log(present)
        folders: set[str] = set()
        try:
            for relpath in present:
                target = self.target(relpath)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(target)
                folders.add(os.path.dirname(target))
            for folder in sorted(folders, key=len, reverse=True):
                self._prune(folder)
        except OSError as e:
            raise ArchiveError(f"cannot remove {e.filename or self.root}: {e.strerror}") from e
        return len(present)

    def _prune(self, folder: str) -> None:
        """Remove ``folder`` and its parents while they are empty (never the root)."""
        root = os.path.normpath(self.root)
        while os.path.normpath(folder) != root and folder.startswith(root):
            try:
                os.rmdir(folder)
            except OSError:
                break  # not empty (or gone): its parents are not empty either
            with self._lock:
                self._safe_dirs.discard(folder)
            parent = os.path.dirname(folder)
            if self.fsync:
                _fsync_dir(parent)
            folder = parent

    def _log(self, relpaths: list[str]) -> None:
        """Name these paths in the journal (one append; its loss costs only a late commit)."""
        if self.journal is None or not relpaths:
            return
        with self._lock, open(self.journal, "ab") as f:
            f.write(b"".join(p.encode("utf-8") + b"\0" for p in relpaths))

    def written_paths(self) -> list[str]:
        """The journal's paths, each once, in the order first written."""
        if self.journal is None:
            return []
        try:
            raw = self.journal.read_bytes()
        except FileNotFoundError:
            return []
        return list(dict.fromkeys(p.decode("utf-8") for p in raw.split(b"\0") if p))

    def forget_written(self) -> None:
        """Empty the journal (its paths are committed)."""
        if self.journal is not None:
            self.journal.unlink(missing_ok=True)

    def sync(self) -> None:
        """Make the files of earlier ``defer_sync`` batches durable (one ``syncfs``)."""
        if not self._unsynced:
            return
        self._unsynced = False  # batches finishing during the sync set it again
        try:
            sync_file_system(self.root)
        except BaseException:
            self._unsynced = True
            raise

    def write_if_changed(self, relpath: str, data: bytes) -> bool:
        """One file; True if it was written."""
        return self.write_batch([(relpath, data)])[0]


class SyncBarrier:
    """Group commit: each waiter returns once a :meth:`ArchiveWriter.sync` that *began
    after it asked* has finished.  Waiters that arrive while a sync runs share the next."""

    def __init__(self, writer: ArchiveWriter, pool: Executor) -> None:
        self.writer = writer
        self.pool = pool
        self._waiting: list[asyncio.Future[None]] = []
        self._running = False
        self.syncs = 0

    async def wait(self) -> None:
        """Return when everything written before this call is on disk."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._run())
        await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                error: BaseException | None = None
                try:
                    await loop.run_in_executor(self.pool, self.writer.sync)
                    self.syncs += 1
                except Exception as e:
                    error = e
                for f in batch:
                    if f.done():
                        continue
                    if error is None:
                        f.set_result(None)
                    else:
                        f.set_exception(error)
        finally:
            self._running = False
