"""Static search bundles built by Pagefind, one per month of articles.

Pagefind indexes HTML files and segments Chinese (its extended binary, which the
``pagefind[extended]`` wheel ships); searching then runs in the reader's browser with no
server.  It has no incremental mode, so the site is cut into one bundle per month and only
the months whose article pages changed are indexed again; the search page merges them.
Each month's pages are hard-linked into a scratch folder with the site's own layout, so
the result URLs are the pages' real paths.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import NewsmirrorError


class PagefindError(NewsmirrorError):
    """Pagefind could not index the site."""


def build_bundles(root: Path, months: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Index ``(month, pages)`` into ``root/pagefind/{month}/``, replacing what is there."""
    for month, pages in months:
        out = root / "pagefind" / month
        with tempfile.TemporaryDirectory(dir=root, prefix=".pagefind-") as scratch:
            for page in pages:
                target = Path(scratch) / page
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(root / page, target)
                except OSError:
                    shutil.copyfile(root / page, target)
            fresh = Path(scratch) / "_bundle"
            cmd = [
                sys.executable,
                "-m",
                "pagefind",
                "--site",
                scratch,
                "--output-path",
                str(fresh),
                "--force-language",
                "zh",
                "--silent",
            ]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise PagefindError(f"pagefind for {month}: {e}") from e
            if done.returncode != 0:
                detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
                raise PagefindError(f"pagefind for {month} failed: {detail[0]}")
            old = root / "pagefind" / f".old-{month}"
            shutil.rmtree(old, ignore_errors=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.exists():
                out.rename(old)
            fresh.rename(out)
            shutil.rmtree(old, ignore_errors=True)
