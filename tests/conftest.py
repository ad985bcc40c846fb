"""Shared fixtures: the fake outlet server, the ``../shared`` folder, config builders."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from newsmirror.config import Settings, load
from newsmirror.pipeline import Updater
from newsmirror.report import UpdateReport

from .fakeserver import FakeServer

# The catalogs the configs written by write_config use: with no cluster, SQLite in each
# archive; else a PostgreSQL database per archive folder, made on first use (the cluster
# is set by the ``catalog_backend`` fixture, for one test at a time).
PG_CLUSTER: Any = None
_DATABASES: dict[Path, str] = {}


def catalog_url(archive: Path) -> str | None:
    """The PostgreSQL database of the archive at ``archive`` in this test, if any."""
    if PG_CLUSTER is None:
        return None
    key = archive.resolve()
    if key not in _DATABASES:
        _DATABASES[key] = PG_CLUSTER.database()
    return _DATABASES[key]


# NEWSMIRROR_TEST_CATALOG=postgresql runs every test that writes a config on PostgreSQL.
ALL_ON_POSTGRES = os.environ.get("NEWSMIRROR_TEST_CATALOG", "") == "postgresql"

SHARED = Path(
    os.environ.get("NEWSMIRROR_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "golden").is_dir():
        pytest.fail(f"the shared folder is missing: expected {SHARED} (set NEWSMIRROR_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """One throw-away PostgreSQL server per test process (see pgcluster.py)."""
    from .pgcluster import binaries, running

    if binaries() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required under CI (.ci/run installs it): initdb missing")
        pytest.skip("PostgreSQL is not installed")
    with running() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: Any) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (removed after the test)."""
    url = str(pg_cluster.database())
    yield url
    pg_cluster.drop(url)


def _forget_databases() -> None:
    """The test is over: its databases go (each holds a few MB on disk)."""
    global PG_CLUSTER
    cluster, PG_CLUSTER = PG_CLUSTER, None
    while _DATABASES:
        cluster.drop(_DATABASES.popitem()[1])


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs a test once per catalog engine: configs it writes name a fresh PostgreSQL
    database in the second run.  Modules opt in with ``usefixtures``."""
    global PG_CLUSTER
    if request.param == "sqlite" and not ALL_ON_POSTGRES:
        yield "sqlite"
        return
    PG_CLUSTER = request.getfixturevalue("pg_cluster")
    try:
        yield "postgresql"
    finally:
        _forget_databases()


@pytest.fixture(autouse=ALL_ON_POSTGRES)
def _all_on_postgres(request: pytest.FixtureRequest) -> Iterator[None]:
    global PG_CLUSTER
    PG_CLUSTER = request.getfixturevalue("pg_cluster")
    try:
        yield
    finally:
        _forget_databases()


def archive_catalog(site: Path) -> Any:
    """The catalog of the archive at ``site`` as written by write_config: its SQLite
    file, or the test's PostgreSQL database."""
    from newsmirror.store.catalog import Catalog

    url = catalog_url(site)
    catalog = Catalog(url or site / ".newsmirror" / "catalog.sqlite", create=False)
    _OPENED.append(catalog)
    return catalog


_OPENED: list[Any] = []


@pytest.fixture(autouse=True)
def _close_catalogs() -> Iterator[None]:
    """Catalogs the helpers opened are closed after each test."""
    yield
    while _OPENED:
        _OPENED.pop().close()


def catalog_db(site: Path) -> Any:
    """The connection of :func:`archive_catalog`, for looking at its rows."""
    return archive_catalog(site).db


def copy_catalog(site: Path, copy: Path, config: Path) -> None:
    """The archive at ``site`` was copied to ``copy``, with its config at ``config``: the
    copy gets a copy of the catalog (its SQLite file came along; a PostgreSQL database
    is copied and the config pointed at it)."""
    url = catalog_url(site)
    if url is None:
        return
    _DATABASES[copy.resolve()] = new = PG_CLUSTER.database(copy_of=url)
    config.write_text(config.read_text().replace(url, new))


def lose_catalog(site: Path) -> None:
    """The catalog is lost (an archive moved to a new machine without it)."""
    shutil.rmtree(site / ".newsmirror")
    url = catalog_url(site)
    if url is None:
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as s:
        yield s


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(
    path: Path,
    sources: list[dict[str, Any]],
    *,
    layout: str = "dated",
    git: bool = False,
    remotes: tuple[str, ...] = (),
    archive: dict[str, Any] | None = None,
) -> Path:
    lines = ["[archive]", 'path = "site"', f'layout = "{layout}"']
    for k, v in (archive or {}).items():
        lines.append(f"{k} = {toml_value(v)}")
    lines += [
        "",
        "[network]",
        "allow_private_networks = true",
        "per_host_delay = 0",
        'timeout = "20s"',
        "",
        "[publish.git]",
        f"enabled = {toml_value(git)}",
        f"remotes = {toml_value(remotes)}",
    ]
    url = catalog_url(path.parent / "site")
    if url:
        lines += ["", "[catalog]", f"url = {toml_value(url)}"]
    for s in sources:
        lines += ["", "[[sources]]"] + [f"{k} = {toml_value(v)}" for k, v in s.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Clock:
    """A settable clock in ms, so dates in catalog and README are reproducible."""

    def __init__(self, ms: int = 1_700_000_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def run_update(clock: Clock) -> Callable[[Path], UpdateReport]:
    def run(config: Path) -> UpdateReport:
        settings: Settings = load(config)
        return Updater(settings, clock=clock).run()

    return run


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file outside .git and .newsmirror with its bytes and mtime."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and rel.parts[0] not in (".git", ".newsmirror"):
            out[str(rel)] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, capture_output=True, text=True, check=True
    ).stdout
