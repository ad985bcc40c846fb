"""Outgoing feeds: Atom, RSS 2.0 and JSON Feed, full content.

Pure: entries in, bytes out.  Atom and RSS come from feedgen, which writes what feed readers
accept; JSON Feed 1.1 is a small JSON document written here.  Feeds are read away from the
site, so every URL in them must be absolute: with ``[site] base_url`` set, entries link to
the mirrored pages and relative URLs in bodies (image copies, links between mirrored
articles) are made absolute against it; without it, entries link to the outlet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

from feedgen.feed import FeedGenerator

from ..model import clamp_ms

# What starts an address that is not relative: a scheme, or "//" (network-path).
_ABSOLUTE = r"[a-zA-Z][a-zA-Z0-9+.-]*:|//"
_RELATIVE = re.compile(rf"""(\s(?:href|src)=)(["'])(?!{_ABSOLUTE}|#)([^"']*)\2""")
_SRCSET = re.compile(r"""\ssrcset=(["'])[^"']*\1""")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One article as a feed entry."""

    id: str  # stable and unique across sources: the page's URL, else a URN of its path
    title: str
    link: str  # the mirrored page (absolute) when the site has a base URL, else the outlet's
    original: str  # the outlet's URL
    date_ms: int
    authors: tuple[str, ...]
    content: str  # HTML, URLs already absolute, ending with a link to the original


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """The feed itself."""

    title: str
    home: str  # absolute URL of the site's page for this feed, or ""
    self_url: str  # absolute URL of this feed file, or ""
    id: str


_RELATIVE_IMG = re.compile(rf"""<img\b[^>]*\ssrc=(["'])(?!{_ABSOLUTE})[^"']*\1[^>]*>""", re.I)
_RELATIVE_HREF = re.compile(rf"""\shref=(["'])(?!{_ABSOLUTE}|#)[^"']*\1""")


def absolute_body(body: str, page_url: str) -> str:
    """``body`` (as shown at ``page_url``) with relative ``href``/``src`` made absolute.

    A relative ``srcset`` cannot be resolved the same way cheaply; it is dropped, and the
    ``src`` beside it stays.  Without a page URL (a site without ``base_url``) nothing
    relative can be resolved: such pictures go (their captions stay) and such links keep
    their text only, so a feed reader shows no broken link.
    """
    if not page_url:
        body = _RELATIVE_IMG.sub("", body)
        body = _RELATIVE_HREF.sub("", body)
        return _SRCSET.sub(lambda m: m[0] if "://" in m[0] else "", body)
    body = _RELATIVE.sub(lambda m: f"{m[1]}{m[2]}{urljoin(page_url, m[3])}{m[2]}", body)
    return _SRCSET.sub(lambda m: m[0] if "://" in m[0] else "", body)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(clamp_ms(ms) / 1000, UTC)


def _generator(info: FeedInfo, entries: Sequence[FeedEntry]) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(info.id)
    fg.title(info.title)
    fg.description(info.title)
    fg.language("zh")
    fg.link(href=info.home or (entries[0].original if entries else info.id), rel="alternate")
    if info.self_url:
        fg.link(href=info.self_url, rel="self")
    fg.updated(_dt(max((e.date_ms for e in entries), default=0)))
    fg.generator("newsmirror")
    for e in entries:
        fe = fg.add_entry(order="append")
        fe.id(e.id)
        fe.guid(e.id, permalink=False)
        fe.title(e.title)
        fe.link(href=e.link, rel="alternate")
        fe.published(_dt(e.date_ms))
        fe.updated(_dt(e.date_ms))
        for name in e.authors:
            fe.author({"name": name})
        fe.content(e.content, type="html")
    return fg


def atom(info: FeedInfo, entries: Sequence[FeedEntry]) -> bytes:
    """An Atom 1.0 document."""
    return bytes(_generator(info, entries).atom_str(pretty=True))


def rss(info: FeedInfo, entries: Sequence[FeedEntry]) -> bytes:
    """An RSS 2.0 document (the body in ``content:encoded``)."""
    return bytes(_generator(info, entries).rss_str(pretty=True))


def json_feed(info: FeedInfo, entries: Sequence[FeedEntry]) -> bytes:
    """A JSON Feed 1.1 document."""
    doc: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": info.title,
        "language": "zh",
        "items": [
            {
                "id": e.id,
                "url": e.link,
                **({"external_url": e.original} if e.original != e.link else {}),
                "title": e.title,
                "content_html": e.content,
                "date_published": _dt(e.date_ms).isoformat().replace("+00:00", "Z"),
                **({"authors": [{"name": a} for a in e.authors]} if e.authors else {}),
            }
            for e in entries
        ],
    }
    if info.home:
        doc["home_page_url"] = info.home
    if info.self_url:
        doc["feed_url"] = info.self_url
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
