"""Shared fixtures: the fake outlet server, the ``../shared`` folder, config builders."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from newsmirror.config import Settings, load
from newsmirror.pipeline import Updater
from newsmirror.report import UpdateReport

from .fakeserver import FakeServer

SHARED = Path(
    os.environ.get("NEWSMIRROR_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "golden").is_dir():
        pytest.fail(f"the shared folder is missing: expected {SHARED} (set NEWSMIRROR_SHARED)")
    return SHARED


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
