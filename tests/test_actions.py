"""The GitHub Actions workflow `init --github-actions` writes: its shape, and its shell steps
run in order, each pass in a fresh checkout of a bare remote, against fake outlets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import feeds
from .conftest import git
from .fakeserver import FakeServer
from .test_cli import _point_at, nm


def _workflow(repo: Path) -> dict[Any, Any]:
    doc = yaml.safe_load((repo / ".github/workflows/newsmirror.yml").read_text())
    assert isinstance(doc, dict)
    return doc


def test_workflow_shape(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    r = nm(tmp_path, "init", "--github-actions", "--package", "newsmirror==1.0")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / ".github/newsmirror-requirements.txt").read_text() == "newsmirror==1.0\n"
    wf = _workflow(tmp_path)
    on = wf[True]  # YAML 1.1 reads the key `on` as true
    assert on["schedule"][0]["cron"].endswith("* * * *") and "workflow_dispatch" in on
    assert wf["concurrency"] == {"group": "newsmirror", "cancel-in-progress": False}
    assert wf["permissions"] == {"contents": "read"}  # least privilege by default
    update, deploy = wf["jobs"]["update"], wf["jobs"]["deploy"]
    assert update["permissions"] == {"contents": "write"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "update" and deploy["environment"]["name"] == "github-pages"
    uses = {s["uses"].split("@")[0]: s for s in update["steps"] if "uses" in s}
    assert uses["actions/checkout"]["with"]["path"] == "archive"
    assert uses["actions/setup-python"]["with"]["cache"] == "pip"
    restore, save = uses["actions/cache/restore"], uses["actions/cache/save"]
    assert "github.run_id" in restore["with"]["key"] and restore["with"]["restore-keys"]
    assert save["if"] == "always()" and save["with"]["path"] == restore["with"]["path"]
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "public"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    names = [s.get("name", s.get("uses")) for s in update["steps"]]
    assert names.index("Update the archive") < names.index("Build the site") < names.index("Status")
    # The config in the repository: the archive is the checkout, origin is pushed.
    cfg = (tmp_path / "newsmirror.toml").read_text()
    assert 'path = "."' in cfg and 'path = "../public"' in cfg and 'remotes = ["origin"]' in cfg


def _run_steps(steps: list[dict[str, Any]], workspace: Path) -> list[str]:
    """Each ``run`` step, as a runner does it (bash -eo pipefail); the install step is
    skipped (newsmirror is installed here already).  Returns the steps' output."""
    out = []
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(workspace / "github_output"),
        "PAGES_URL": "https://owner.github.io/mirror",  # configure-pages' base_url
    }
    for step in steps:
        if "run" not in step or step.get("id") == "install":
            continue
        assert "${{" not in step["run"], "expressions go through env, not into scripts"
        p = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=workspace / step.get("working-directory", "."),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert p.returncode == 0, f"{step['name']}: {p.stdout}\n{p.stderr}"
        out.append(p.stdout)
    return out


def test_workflow_steps_on_fresh_checkouts(tmp_path: Path, server: FakeServer) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    seed = tmp_path / "seed"
    subprocess.run(
        ["git", "clone", "-q", str(origin), str(seed)], check=True, stderr=subprocess.DEVNULL
    )
    assert nm(seed, "init", "--github-actions").returncode == 0
    _point_at(server, seed / "newsmirror.toml")
    server.routes["/rfa.xml"] = feeds.rss(feeds.items(2, prefix=server.url("/rfa/a/")))
    server.routes["/cdt.xml"] = feeds.rss(feeds.items(1, prefix=server.url("/cdt/a/")))
    git(seed, "add", "-A")
    git(seed, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "newsmirror set-up")
    git(seed, "push", "-q", "origin", "HEAD:main")
    steps = _workflow(seed)["jobs"]["update"]["steps"]
    cache = tmp_path / "actions-cache"

    def run(n: int, restore: bool) -> Path:
        workspace = tmp_path / f"run{n}"
        subprocess.run(
            ["git", "clone", "-q", "--depth", "1", f"file://{origin}", str(workspace / "archive")],
            check=True,
        )
        if restore and cache.is_dir():
            shutil.copytree(cache, workspace / "archive/.newsmirror")
        _run_steps(steps, workspace)
        shutil.rmtree(cache, ignore_errors=True)  # saved whatever happened (if: always())
        shutil.copytree(workspace / "archive/.newsmirror", cache)
        return workspace

    def commits() -> int:
        return int(git(origin, "rev-list", "--count", "main").strip())

    first = run(1, restore=True)  # no cache yet
    assert commits() == 2
    articles = list((first / "archive/articles").rglob("*.md"))
    assert len(articles) == 8  # two DW, one each of BBC, RFI, NYT, two RFA, one CDT
    home = (first / "public/index.html").read_text()
    assert "rfa" in home.lower() or "自由亚洲" in home
    atom = (first / "public/feeds/all.atom").read_text()
    assert "https://owner.github.io/mirror/articles/" in atom  # absolute, from --base-url
    run(2, restore=True)  # nothing new, catalog from the cache
    assert commits() == 2
    server.routes["/rfa.xml"] = feeds.rss(feeds.items(3, prefix=server.url("/rfa/a/")))
    third = run(3, restore=False)  # the cache was evicted: the catalog is rebuilt
    assert commits() == 3
    assert len(list((third / "archive/articles").rglob("*.md"))) == 9
    run(4, restore=False)  # nothing new, no cache again
    assert commits() == 3


def test_systemd_units_and_container_definition() -> None:
    import configparser

    deploy = Path(__file__).resolve().parents[1] / "deploy"
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(deploy / "systemd/newsmirror.service")
    service = unit["Service"]
    assert service["Type"] == "oneshot" and service["SuccessExitStatus"] == "2"
    assert service["ExecStart"].split()[-1] == "update" and "--config" in service["ExecStart"]
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.optionxform = str  # type: ignore[assignment,method-assign]
    timer.read(deploy / "systemd/newsmirror.timer")
    assert timer["Timer"]["OnCalendar"] == "hourly" and timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    container = (deploy / "Containerfile").read_text()
    assert "newsmirror run --every" in container and "USER newsmirror" in container
    assert "[postgresql]" in container  # the same image runs workers


@pytest.mark.parametrize(
    ("name", "queues"),
    [("newsmirror-worker@.service", False), ("newsmirror-publisher.service", True)],
)
def test_worker_units_run_commands_the_cli_takes(name: str, queues: bool) -> None:
    import configparser

    from newsmirror.cli import main

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(Path(__file__).resolve().parents[1] / "deploy/systemd" / name)
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert unit["Service"]["KillSignal"] == "SIGTERM"
    args = unit["Service"]["ExecStart"].split()[1:]
    ctx = main.make_context("newsmirror", [*args[:2], "--help"], resilient_parsing=True)
    command = main.get_command(ctx, args[2])
    assert command is not None and args[2] == "worker"
    params = command.make_context("worker", args[3:]).params
    assert params["publisher"] is queues and params["concurrency"] >= 1


def test_readme_shows_the_workflow_as_written() -> None:
    from newsmirror.actions import WORKFLOW

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "```yaml\n" + WORKFLOW + "```" in readme
