"""feedparser's test corpus, and how our reading of a feed is compared with feedparser's.

The corpus is the ``tests/`` folder of feedparser's source distribution (~2,250 files of
real-world and hostile feeds).  It comes from the package registry like any dependency,
once, into ``.cache/`` at the project root (or ``NEWSMIRROR_CORPUS``).

:func:`compare` reads one document both ways and lists every entry on which we differ from
feedparser: link, title text, or body text after sanitizing and whitespace normalisation.
Entries feedparser reads without an http(s) link are not articles to either of us.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import feedparser
import lxml.html

from newsmirror import urls
from newsmirror.errors import NewsmirrorError
from newsmirror.sources.feed import RawItem, html_text, read_document, to_article
from newsmirror.transform.sanitize import sanitize

VERSION = "6.0.11"
ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("NEWSMIRROR_CORPUS", ROOT / ".cache" / f"feedparser-{VERSION}"))
# feedparser's own runner serves the files from here; links in the corpus expect it.
BASE = "http://127.0.0.1:8097/"


FEED_SUFFIXES = (".xml", ".rdf", ".rss", ".atom", ".json", "")


def corpus(
    cache: Path = CACHE, version: str = VERSION, suffixes: tuple[str, ...] = FEED_SUFFIXES
) -> list[Path]:
    """Every file of the corpus, downloading the source distribution on first use."""
    tests = cache / f"feedparser-{version}" / "tests"
    if not tests.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:"]
        subprocess.run([*pip, "--no-deps", f"feedparser=={version}", "-d", str(cache)], check=True)
        (sdist,) = cache.glob(f"feedparser-{version}.tar.gz")
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if "/tests/" in m.name and m.isfile()]
            tar.extractall(cache, members=members, filter="data")
    return sorted(p for p in tests.rglob("*") if p.is_file() and p.suffix in suffixes)


def url_of(path: Path) -> str:
    """The URL feedparser's runner gives the file (relative links resolve against it)."""
    parts = path.parts
    return BASE + "/".join(parts[parts.index("tests") :])


def text_of(markup: str, is_html: bool) -> str:
    """Whitespace-normalised text of a body or title."""
    if is_html and markup.strip():
        try:
            markup = lxml.html.fragment_fromstring(markup, create_parent="div").text_content()
        except Exception:
            markup = html_text(markup)
    return " ".join(markup.split())


def _type_is_html(detail: Any, default: bool) -> bool:
    ctype = (detail or {}).get("type") if isinstance(detail, dict) else None
    if not ctype:
        return default
    return str(ctype).lower() in ("text/html", "application/xhtml+xml")


def expected(entry: Any, link: str) -> tuple[str, str, str]:
    """feedparser's ``(link, title text, body text)`` of an entry, as we would write it."""
    title = entry.get("title") or ""
    title = text_of(
        html_text(title) if _type_is_html(entry.get("title_detail"), False) else title, False
    )
    body, is_html = "", True
    for c in entry.get("content") or []:
        if (c.get("value") or "").strip():
            body, is_html = c["value"], _type_is_html(c, True)
            break
    else:
        body = dict.get(entry, "summary") or ""
        is_html = _type_is_html(entry.get("summary_detail"), True)
    if is_html:
        body = sanitize(body, link)
    return link, title, text_of(body, is_html)


@dataclass
class Outcome:
    """What one document gave.  ``entries``: entries feedparser read with an http(s) link,
    with ``same_*`` counting how many of them we read the same; ``all_entries``: every entry
    feedparser read, with ``all_same_*`` comparing title and body text (links aside)."""

    entries: int = 0
    same_link: int = 0
    same_title: int = 0
    same_body: int = 0
    item_errors: int = 0
    all_entries: int = 0
    all_same_title: int = 0
    all_same_body: int = 0
    differences: list[str] = field(default_factory=list)


def _raw_texts(item: RawItem, link: str) -> tuple[str, str]:
    title = html_text(item.title) if item.title_is_html else item.title
    body = sanitize(item.body, item.body_base or link) if item.body_is_html else item.body
    return text_of(title, False), text_of(body, item.body_is_html)


def compare(path: Path) -> Outcome:
    """Our reading of one corpus file against feedparser's."""
    return compare_bytes(path.read_bytes(), url_of(path), path.name)


def compare_bytes(raw: bytes, url: str, name: str) -> Outcome:
    """Our reading of one document against feedparser's; differences begin with ``name``."""
    path = Path(name)
    fp = feedparser.parse(
        raw,
        response_headers={"content-location": url},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    out = Outcome()
    fp_entries = fp.get("entries") or []
    if not fp_entries:
        return out
    linked = {i for i, e in enumerate(fp_entries) if urls.scheme_ok(str(e.get("link") or ""))}
    try:
        items, _ = read_document(raw, url)
    except Exception as e:
        out.entries, out.all_entries = len(linked), len(fp_entries)
        out.differences.append(f"{path.name}: document refused: {e}")
        return out
    if len(items) != len(fp_entries):
        out.differences.append(f"{path.name}: {len(fp_entries)} entries, we read {len(items)}")
    for i, entry in enumerate(fp_entries):
        out.all_entries += 1
        out.entries += i in linked
        if i >= len(items):
            continue
        link = str(entry.get("link") or "")
        if i in linked:
            with contextlib.suppress(urls.BadURLError):
                link = urls.serialize(link, keep_tracking=True)
        want = expected(entry, link or "http://example.org/")
        got = _raw_texts(items[i], link or "http://example.org/")
        for name, a, b in zip(("title", "body"), want[1:], got, strict=True):
            if a == b:
                setattr(out, f"all_same_{name}", getattr(out, f"all_same_{name}") + 1)
            elif i not in linked:
                out.differences.append(f"{path.name}: entry {i}: {name}: {a[:90]!r} != {b[:90]!r}")
        if i not in linked:
            continue
        try:
            article = to_article(items[i], source="c", feed_url=url, now_ms=0, keep_tracking=True)
        except NewsmirrorError as e:
            out.item_errors += 1
            out.differences.append(f"{path.name}: entry {i}: item error: {e}")
            continue
        title = text_of(article.title, False)
        if title == article.url and not want[1]:
            title = ""  # an untitled entry is titled with its link
        mine = (article.url, title, text_of(article.body, True))
        for name, a, b in zip(("link", "title", "body"), want, mine, strict=True):
            if a == b:
                setattr(out, f"same_{name}", getattr(out, f"same_{name}") + 1)
            else:
                out.differences.append(f"{path.name}: entry {i}: {name}: {a[:90]!r} != {b[:90]!r}")
    return out
