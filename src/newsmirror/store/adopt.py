"""Adopting an existing archive: files already in a source's folder join the catalog.

An operator switching from the hourly mirror scripts points newsmirror at their repository,
which already holds ``articles/dw/1048574.md`` and below.  Before a source's first pass,
every article file in its folder is read back into the catalog (identity from its link,
number from its name), so numbering continues below the lowest existing number, nothing is
overwritten, and an article the feed still carries is recognised instead of duplicated.
The same pass rebuilds a lost catalog from the files themselves.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from .. import urls
from ..model import ARCHIVE_REF, Article
from ..render.markdown import file_hash, parse_article_file
from ..transform.sanitize import sanitize
from ..transform.script import is_variant, strip_cross_link

log = logging.getLogger(__name__)

_RELATIVE = re.compile(r'(\s(?:src|href)=")([^":#?/][^":#?]*)"')
# Relative references stand in for archive references while the body is sanitized (which
# resolves relative URLs against the article's link).
_STAND_IN = "https://archive.invalid/"


def _archive_refs(body: str, path: str) -> str:
    """Relative links and pictures of a file the archive wrote (image copies, links to
    other copies) turned back into archive references, so rendering the article again,
    anywhere (a rotation), keeps them working."""
    folder = posixpath.dirname(path)

    def ref(m: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(folder, m.group(2)))
        if target.startswith("../") or target in (".", ".."):
            return m.group(0)
        return f'{m.group(1)}{_STAND_IN}{target}"'

    return _RELATIVE.sub(ref, body)


@dataclass(frozen=True, slots=True)
class ExistingFile:
    """One article file found in the archive."""

    path: str
    number: int | None
    article: Article
    hash: str
    body: str


def read_article_file(data: bytes, source: str, path: str) -> ExistingFile | None:
    """Parse an article file of the archive format; None if it is not one."""
    parsed = parse_article_file(data)
    if parsed is None:
        return None
    date_ms, title, url, text = parsed
    try:
        link = urls.LinkForms(url)
    except urls.BadURLError:
        return None
    if not urls.scheme_ok(link.absolute):
        return None  # a title linking to javascript: is no article of ours
    ident, key = urls.identity("", link)  # a file keeps no guid: its link is all we have
    name = path.rsplit("/", 1)[-1].removesuffix(".md")
    article = Article(
        source=source,
        ident=ident,
        key=key,
        url=url,
        title=title,
        date_ms=date_ms,
        # Files written by another tool are published again (site, feeds): they pass the
        # same allow-list as everything fetched.
        body=sanitize(
            _archive_refs(strip_cross_link(text.removesuffix("\n")), path), link.absolute
        ).replace(_STAND_IN, ARCHIVE_REF),
        canonical=link.canonical,
    )
    return ExistingFile(path, int(name) if name.isdigit() else None, article, file_hash(data), text)


def scan(root: Path, source: str) -> tuple[list[ExistingFile], int | None]:
    """Article files under ``articles/{source}/`` and the lowest numeric file name seen.

    Where several files hold the same article (the old scripts duplicated edited stories),
    the newest (lowest number, else latest date) stands for it; the others stay on disk.
    """
    folder = root / "articles" / source
    found: dict[str, ExistingFile] = {}
    lowest: int | None = None
    if not folder.is_dir():
        return [], None
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            if not name.endswith(".md") or is_variant(name):
                continue
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            stem = name.removesuffix(".md")
            if stem.isdigit():
                lowest = int(stem) if lowest is None else min(lowest, int(stem))
            try:
                existing = read_article_file(full.read_bytes(), source, rel)
            except OSError as e:
                log.warning("%s: cannot read %s: %s", source, rel, e.strerror)
                continue
            if existing is None:
                log.warning("%s: %s is not an article file; left alone", source, rel)
                continue
            other = found.get(existing.article.ident)
            if other is None or _newer(existing, other):
                found[existing.article.ident] = existing
    return sorted(found.values(), key=lambda f: f.path), lowest


def _newer(a: ExistingFile, b: ExistingFile) -> bool:
    if a.number is not None and b.number is not None:
        return a.number < b.number
    return a.article.date_ms > b.article.date_ms
