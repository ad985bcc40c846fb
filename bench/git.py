"""Benchmark: the git part of a pass that writes 50 files into a large archive.

Builds (once, kept in ``--workdir``) a git repository holding an archive of N article files
(default 200,000, laid out as the dated layout lays them), then, in a fresh copy of its
state each round, writes 50 files (30 new articles, 18 edited ones, a list and the README)
through the archive writer and times publishing them: newsmirror's way (stage the journal's
paths, write-tree, commit-tree) against the way it replaced (``git add -A``, ``git status
--porcelain``, ``git commit``), in the same run.  Prints figures; asserts nothing.

    python bench/git.py [--files 200000] [--workdir DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import tempfile
import time
from pathlib import Path

from newsmirror.publish import git as git_publish
from newsmirror.store.files import ArchiveWriter

BODY = "<p>" + "示例正文。" * 100 + "</p>\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def relpath(n: int) -> str:
    day = f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}"
    return f"articles/s{n % 40}/{day}/{n:08d}.md"


def build(repo: Path, count: int) -> None:
    if (repo / ".git").exists() and git(repo, "rev-parse", "-q", "--verify", "HEAD").strip():
        return
    started = time.perf_counter()
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    made: set[Path] = set()
    for n in range(count):
        path = repo / relpath(n)
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_text(f"<!--{n}-->\n[标题 {n}](https://x.example/{n})\n\n{BODY}")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "archive")
    print(f"built a {count:,}-file archive in {time.perf_counter() - started:.0f} s")


def write_pass(repo: Path, count: int, rng: random.Random, tag: str) -> ArchiveWriter:
    writer = ArchiveWriter(repo, fsync=False, journal=True)
    writer.clear_temps()
    files = [(relpath(count + rng.randrange(10**6)), f"new {tag}".encode()) for _ in range(30)]
    files += [(relpath(rng.randrange(count)), f"edited {tag}".encode()) for _ in range(18)]
    files += [("lists/源0.md", tag.encode()), ("README.md", tag.encode())]
    writer.write_batch(files)
    return writer


def reset(repo: Path, head: str) -> None:
    git(repo, "reset", "-q", "--hard", head)
    git(repo, "clean", "-q", "-fd", "--", "articles", "lists", "README.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--workdir", default=tempfile.gettempdir())
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    repo = Path(args.workdir) / f"nm-git-bench-{args.files}"
    build(repo, args.files)
    (repo / ".git/info").mkdir(exist_ok=True)
    (repo / ".git/info/exclude").write_text(".newsmirror/\n")
    head = git(repo, "rev-parse", "HEAD").strip()
    rng = random.Random(7)
    ours: list[float] = []
    theirs: list[float] = []
    for r in range(args.rounds):
        for way in ("ours", "add -A"):
            reset(repo, head)
            git(repo, "status", "--porcelain")  # the same warm caches for both ways
            writer = write_pass(repo, args.files, rng, f"{way}{r}")
            t = time.perf_counter()
            if way == "ours":
                result = git_publish.publish(repo, "Update", (), paths=writer.written_paths())
                assert result.commit
                ours.append(time.perf_counter() - t)
            else:
                git(repo, "add", "-A")
                assert git(repo, "status", "--porcelain").strip()
                git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "U")
                theirs.append(time.perf_counter() - t)
            changed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
            assert len(changed) == 50, len(changed)
    reset(repo, head)
    print(f"a pass writing 50 files into a {args.files:,}-file archive, git part:")
    print(f"  newsmirror (staged paths, write-tree): best {min(ours):.3f} s, all {ours}")
    print(f"  add -A + status + commit:              best {min(theirs):.3f} s, all {theirs}")
    print(f"  ratio: {min(theirs) / min(ours):.1f}x  (target: under 2 s)")


if __name__ == "__main__":
    main()
