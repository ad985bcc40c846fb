"""Publishing the archive folder with the ``git`` executable.

After an update that changed files: one commit, then a push to each configured remote.
Nothing changed -> no commit, and that is success.

Only the files the pass wrote are staged (the archive writer's journal names them), and the
commit is made with plumbing (``write-tree``, ``commit-tree``, ``update-ref``): ``git add
-A``, ``git status`` and ``git commit`` each look at every file of the work tree, so a
pass's cost grew with the archive instead of with what changed.  A repository without a
commit yet is staged whole once.  A push that fails leaves the commit in
the local repository; the next run sees the remote-tracking branch behind ``HEAD`` and
pushes again, so no commit is ever lost.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import PublishError

log = logging.getLogger(__name__)


def _detail(p: subprocess.CompletedProcess[str]) -> str:
    """All of git's message, one line: its reason is often before its last line
    ("ERROR: Repository not found. fatal: Could not read from remote repository. …")."""
    lines = [line.strip() for line in (p.stderr or p.stdout or "").splitlines() if line.strip()]
    text = " ".join(line for line in lines if not line.startswith("hint:"))
    if len(text) > 2000:
        text = text[:2000] + " …"
    return text or f"exit {p.returncode}"


_IDENTITY = ("-c", "user.name=newsmirror", "-c", "user.email=newsmirror@localhost")


@dataclass(slots=True)
class PublishResult:
    """What publishing did: the commit made (if any) and each remote's outcome."""

    commit: str | None = None
    pushed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class GitRepo:
    """The archive's git work tree."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if shutil.which("git") is None:
            raise PublishError("git is not installed (needed for [publish.git])")

    def run(
        self, *args: str, check: bool = True, timeout: float = 600, stdin: str | None = None
    ) -> str:
        """Run one git command in the work tree; :class:`PublishError` names it on failure."""
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        try:
            p = subprocess.run(
                ["git", *args],
                cwd=self.path,
                capture_output=True,
                input=stdin,
                text=True,
                timeout=timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise PublishError(f"git {args[0]} took longer than {timeout:g} s") from e
        if check and p.returncode != 0:
            raise PublishError(f"git {' '.join(args[:2])} failed: {_detail(p)}")
        return p.stdout

    def ensure(self) -> None:
        """Make the archive folder a repository and keep the catalog out of it."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not (self.path / ".git").exists():
            self.run("init", "-q")
        self._clear_stale_locks()
        exclude = self.path / ".git" / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        text = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
        # The catalog, and the temporary files of a killed pass (see store.files).
        missing = [p for p in (".newsmirror/", ".nm-*.tmp") if p not in text.splitlines()]
        if missing:
            with exclude.open("a", encoding="utf-8") as f:
                lead = "" if text.endswith("\n") or not text else "\n"
                f.write(lead + "".join(p + "\n" for p in missing))

    def _clear_stale_locks(self) -> None:
        """Remove lock files a killed git left behind.

        The caller holds the archive lock, so no other newsmirror is using this repository;
        a lock file now is a leftover that would make every later git command fail.
        """
        git_dir = self.path / ".git"
        candidates = [git_dir / n for n in ("index.lock", "HEAD.lock", "packed-refs.lock")]
        candidates += list((git_dir / "refs").rglob("*.lock"))
        for lock in candidates:
            if lock.is_file():
                log.warning("removing stale git lock %s (left by an interrupted run)", lock)
                lock.unlink(missing_ok=True)

    def _identity(self) -> tuple[str, ...]:
        has = self.run("config", "user.email", check=False).strip()
        return () if has else _IDENTITY

    def commit(self, message: str, paths: list[str] | None) -> str | None:
        """Stage ``paths`` (None: everything) and commit; None when nothing changed."""
        head = self.run("rev-parse", "-q", "--verify", "HEAD", check=False).strip()
        if paths is None or not head:
            self.run("add", "-A")
        else:
            if not paths:
                return None
            # Exact paths, not pathspecs: a file named '*' or ':x' is that file, and git
            # does not match every index entry against every path (a rotation stages the
            # removal of 100,000 files: pathspecs took minutes).  A path that is gone is
            # removed from the index; one git never had and that is gone is ignored.
            self.run(
                "update-index",
                "--add",
                "--remove",
                "-z",
                "--stdin",
                stdin="\0".join(paths) + "\0",
            )
        tree = self.run("write-tree").strip()
        if head and tree == self.run("rev-parse", f"{head}^{{tree}}").strip():
            return None
        if not head and not self.run("ls-files", "-z").strip("\0"):
            return None
        parents = ("-p", head) if head else ()
        commit = self.run(
            *self._identity(), "commit-tree", tree, *parents, "-F", "-", stdin=message
        ).strip()
        subject = message.splitlines()[0] if message else ""
        self.run("update-ref", "-m", f"commit: {subject}", "HEAD", commit, head or "0" * 40)
        return commit

    def branch(self) -> str:
        """The checked-out branch."""
        name = self.run("symbolic-ref", "--short", "-q", "HEAD", check=False).strip()
        if not name:
            raise PublishError("the archive repository has a detached HEAD; check out a branch")
        return name

    def has_commits(self) -> bool:
        """False in a repository whose branch has no commit yet."""
        return bool(self.run("rev-parse", "-q", "--verify", "HEAD", check=False).strip())

    def needs_push(self, remote: str, branch: str) -> bool:
        """True unless the remote-tracking ref already equals ``HEAD``."""
        head = self.run("rev-parse", "HEAD").strip()
        tracked = self.run(
            "rev-parse", "-q", "--verify", f"refs/remotes/{remote}/{branch}", check=False
        ).strip()
        return head != tracked

    def squash(self, message: str, keep: str) -> str | None:
        """Start the branch again from one commit of its current tree; the history before
        stays reachable at ref ``keep`` (outside ``refs/heads`` and ``refs/tags``, so a
        clone never downloads it).  None when the branch is one commit already."""
        head = self.run("rev-parse", "-q", "--verify", "HEAD", check=False).strip()
        if not head or not self.run("rev-list", "--max-count=1", "--skip=1", head).strip():
            return None
        self.run("update-ref", "-m", "rotation: history before", keep, head)
        tree = self.run("rev-parse", f"{head}^{{tree}}").strip()
        commit = self.run(*self._identity(), "commit-tree", tree, "-F", "-", stdin=message).strip()
        self.run("update-ref", "-m", "rotation: squashed", "HEAD", commit, head)
        return commit

    def push(self, remote: str, branch: str) -> None:
        """Push ``HEAD`` to ``remote``'s ``branch`` and record it in the tracking ref.

        After a squash (``rotate``) the branch no longer descends from what was pushed:
        it is forced, but only over exactly that (``--force-with-lease``), never over
        commits someone else pushed.
        """
        tracked = self.run(
            "rev-parse", "-q", "--verify", f"refs/remotes/{remote}/{branch}", check=False
        ).strip()
        force: tuple[str, ...] = ()
        if tracked and self.run("merge-base", tracked, "HEAD", check=False).strip() != tracked:
            force = (f"--force-with-lease=refs/heads/{branch}:{tracked}",)
        # "--": a remote named like an option ("--receive-pack=…") is never read as one.
        self.run("push", "-q", *force, "--", remote, f"HEAD:refs/heads/{branch}")
        # Remotes without a fetch refspec do not update tracking refs on push; do it here so
        # the next run knows this commit is out.
        self.run("update-ref", f"refs/remotes/{remote}/{branch}", "HEAD")


def publish(
    path: Path,
    message: str,
    remotes: tuple[str, ...],
    branch: str | None = None,
    paths: list[str] | None = None,
) -> PublishResult:
    """Commit what changed in the archive (``paths``, or everything when None) and push
    every remote that is behind."""
    repo = GitRepo(path)
    repo.ensure()
    result = PublishResult(commit=repo.commit(message, paths))
    if not repo.has_commits():
        return result
    target = branch or repo.branch()
    known = set(repo.run("remote").split())
    for remote in remotes:
        if remote not in known:
            result.failed[remote] = f"no remote named {remote!r} in {path}"
            continue
        try:
            if repo.needs_push(remote, target):
                repo.push(remote, target)
                result.pushed.append(remote)
        except PublishError as e:
            result.failed[remote] = str(e)
    return result


class Journal(Protocol):
    """What names the files to commit: an archive writer's journal (``store.files``)."""

    root: Path

    def written_paths(self) -> list[str]: ...

    def forget_written(self) -> None: ...


def publish_written(
    journal: Journal,
    message: str,
    remotes: tuple[str, ...],
    branch: str | None = None,
    origin: str | None = None,
) -> PublishResult:
    """Commit the files ``journal`` names in its repository (made if needed) and push;
    the journal is emptied once they are committed.  ``origin``: the URL of a remote
    named ``origin`` to add when the repository has none (a repository newsmirror makes)."""
    if origin is not None:
        repo = GitRepo(journal.root)
        repo.ensure()
        if not has_remote(journal.root, "origin"):
            repo.run("remote", "add", "--", "origin", origin)
    result = publish(journal.root, message, remotes, branch, paths=journal.written_paths())
    journal.forget_written()
    return result


def has_remote(path: Path, name: str) -> bool:
    """Whether the repository at ``path`` has a remote called ``name``."""
    try:
        return name in GitRepo(path).run("remote").split()
    except PublishError:
        return False
