"""A throw-away PostgreSQL cluster for the tests and benches.

``initdb`` in a temporary folder, the server listening on a Unix socket there and on no
TCP port, stopped and removed on exit.  PostgreSQL refuses to run as root: as root, the
cluster runs as the ``postgres`` user Debian's package makes (else ``nobody``).  Durability
is off (``fsync``): a crashed test cluster is thrown away anyway — except for a cluster
made with ``durable=True``, for tests that restart the server and expect their data back.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: Debian's newest, else from PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Cluster:
    """One running PostgreSQL server; :meth:`database` hands out fresh databases."""

    def __init__(self, *, durable: bool = False) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (initdb not found)")
        self.bin = bin_dir
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="nm-pg-"))
        self.data = self.root / "data"
        self.user: dict[str, Any] = {}
        if os.geteuid() == 0:
            name = "postgres"
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                name, entry = "nobody", pwd.getpwnam("nobody")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.user = {"user": name, "group": entry.pw_gid}
        self._names = itertools.count()
        self.started = False

    def _run(self, *args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, cwd=self.root, **self.user)

    def start(self) -> Cluster:
        """initdb and start the server; waits until it accepts connections."""
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "newsmirror",
            "-A", "trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        self.pg_ctl("start")
        return self

    def pg_ctl(self, action: str, *, mode: str = "fast") -> None:
        """Start, stop (``mode``: fast, immediate) or restart the server."""
        options = [
            f"-k {self.root}",
            "-c listen_addresses=''",
            "-c max_connections=200",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        args = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode]
        args += ["-l", str(self.root / "server.log")]
        if action != "stop":
            args += ["-o", " ".join(options)]
        self._run(*args, action)
        self.started = action != "stop"

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for ``database`` over the cluster's socket."""
        return f"postgresql://newsmirror@/{database}?host={self.root}"

    def database(self, copy_of: str | None = None) -> str:
        """A new database, empty or a copy of the one at URL ``copy_of``; returns its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        template = f' TEMPLATE "{_name(copy_of)}"' if copy_of else ""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{template}')
        return self.url(name)

    def drop(self, url: str) -> None:
        """Remove the database at ``url`` (closing what is still connected to it)."""
        import psycopg

        name = _name(url)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Stop the server and remove everything it wrote."""
        if self.started:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.pg_ctl("stop", mode="immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _name(url: str) -> str:
    """The database a URL of :meth:`Cluster.url` names."""
    return urlsplit(url).path.lstrip("/")


@contextlib.contextmanager
def running(*, durable: bool = False) -> Iterator[Cluster]:
    """A started cluster for the ``with`` block.  A SIGTERM (``timeout``, a CI runner
    stopping a job) ends the block like an exception, so the server is stopped too."""
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    cluster = Cluster(durable=durable)
    try:
        yield cluster.start()
    finally:
        cluster.close()
