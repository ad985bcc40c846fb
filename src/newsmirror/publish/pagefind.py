"""Static search bundles built by Pagefind, one per month of articles.

Pagefind indexes HTML files and segments Chinese (its extended binary, which the
``pagefind[extended]`` wheel ships); searching then runs in the reader's browser with no
server.  It has no incremental mode, so the site is cut into one bundle per month and only
the months whose article pages changed are indexed again; the search page merges them.
Each month's pages are written into a scratch folder with the site's own layout, so the
result URLs are the pages' real paths.

What Pagefind indexes of an article is a *shadow* of its page, never published: the title,
the source and date, a summary, and the text as search terms made the way the live search
makes them (:func:`search_terms`) — Simplified, every character and every pair of adjacent
characters a term of its own, spelt in ASCII so Pagefind's Chinese segmenter leaves them
alone.  The search page rewrites a query the same way (``search.js`` with the fold table
``search-fold.js``), so 会 finds 协会, 对话 finds 對話 and only pages holding 对话 itself,
as ``newsmirror search`` does; the pages readers download stay as they were.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from html import escape
from pathlib import Path

from lxml import html as lhtml

from ..errors import NewsmirrorError
from ..store.search import HAN_RUN, normalize


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
                target.write_bytes(shadow_page((root / page).read_bytes()))
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


def term(chars: str) -> str:
    """One search term for one character or a pair: ``z`` and 5 hex digits each."""
    return "z" + "".join(f"{ord(c):05x}" for c in chars)


def search_terms(text: str) -> str:
    """The terms of (already normalized) text: each Han character and each adjacent pair."""
    found: dict[str, None] = {}
    for m in HAN_RUN.finditer(text):
        run = m.group(0)
        for i, ch in enumerate(run):
            found[term(ch)] = None
            if i + 1 < len(run):
                found[term(run[i : i + 2])] = None
    return " ".join(found)


def shadow_page(page: bytes) -> bytes:
    """What Pagefind indexes for an article page (see the module's docstring); a page that
    is not an article is indexed as it is."""
    doc = lhtml.fromstring(page)
    article = doc.find(".//article[@data-pagefind-body]")
    if article is None:
        return page
    title = " ".join((article.findtext("h1") or "").split())
    body = article.find(".//div[@class='body']")
    text = " ".join((body.text_content() if body is not None else "").split())
    metas = "".join(
        lhtml.tostring(m, encoding="unicode")
        for m in doc.iter("meta")
        if m.get("data-pagefind-meta")
    )
    summary = text[:160] + ("…" if len(text) > 160 else "")
    terms = search_terms(normalize(f"{title} {text}"))
    return (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>{metas}"
        f'<meta data-pagefind-meta="summary[content]" content="{escape(summary)}">'
        f"</head><body><article data-pagefind-body><h1>{escape(title)}</h1>"
        f"<p>{escape(text)}</p><p>{terms}</p></article></body></html>"
    ).encode()


def fold_table() -> bytes:
    """``search-fold.js``: the characters the live search folds (to Simplified, NFKC, lower
    case) and what they become, for the search page to fold queries alike."""
    import json

    table = {}
    for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFF01, 0xFF5E)):
        chars = "".join(chr(c) for c in range(lo, hi + 1))
        folded = normalize(chars)
        if len(folded) != len(chars):
            continue
        table.update({a: b for a, b in zip(chars, folded, strict=True) if a != b})
    data = json.dumps(table, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    head = "// Generated by newsmirror: query folding for search.js.\n"
    return f"{head}window.NM_FOLD={data};\n".encode()
