"""Builders for hand-written feeds in every format the feed source reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape


@dataclass
class Item:
    title: str
    link: str
    body: str
    date: datetime
    guid: str | None = None
    updated: datetime | None = None
    author: str | None = None


def dt(ms_or_iso: int | str) -> datetime:
    if isinstance(ms_or_iso, int):
        return datetime.fromtimestamp(ms_or_iso / 1000, UTC)
    return datetime.fromisoformat(ms_or_iso)


def rss(items: list[Item], title: str = "示例") -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>',
        f"<title>{escape(title)}</title><link>https://example.org/</link>"
        "<description>test</description>",
    ]
    for it in items:
        out.append("<item>")
        out.append(f"<title>{escape(it.title)}</title><link>{escape(it.link)}</link>")
        if it.guid:
            out.append(f'<guid isPermaLink="false">{escape(it.guid)}</guid>')
        out.append(f"<pubDate>{format_datetime(it.date)}</pubDate>")
        if it.author:
            out.append(f"<dc:creator>{escape(it.author)}</dc:creator>")
        out.append(f"<content:encoded><![CDATA[{it.body}]]></content:encoded>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode("utf-8")


def atom(items: list[Item]) -> bytes:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>示例</title>'
        "<id>urn:test</id><updated>2022-10-26T00:00:00Z</updated>",
    ]
    for it in items:
        out.append(
            f"<entry><id>{escape(it.guid or it.link)}</id><title>{escape(it.title)}</title>"
            f'<link rel="alternate" href="{escape(it.link)}"/>'
            f"<published>{it.date.isoformat()}</published>"
        )
        if it.updated:
            out.append(f"<updated>{it.updated.isoformat()}</updated>")
        if it.author:
            out.append(f"<author><name>{escape(it.author)}</name></author>")
        out.append(f'<content type="html">{escape(it.body)}</content></entry>')
    out.append("</feed>")
    return "\n".join(out).encode("utf-8")


def rdf(items: list[Item]) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        '<channel rdf:about="https://example.org/"><title>示例</title>'
        "<link>https://example.org/</link><description>t</description></channel>",
    ]
    for it in items:
        out.append(
            f'<item rdf:about="{escape(it.link)}"><title>{escape(it.title)}</title>'
            f"<link>{escape(it.link)}</link><dc:date>{it.date.isoformat()}</dc:date>"
            f"<description>{escape(it.body)}</description></item>"
        )
    out.append("</rdf:RDF>")
    return "\n".join(out).encode("utf-8")


def json_feed(items: list[Item]) -> bytes:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "示例",
        "items": [
            {
                "id": it.guid or it.link,
                "url": it.link,
                "title": it.title,
                "content_html": it.body,
                "date_published": it.date.isoformat(),
                **({"date_modified": it.updated.isoformat()} if it.updated else {}),
                **({"authors": [{"name": it.author}]} if it.author else {}),
            }
            for it in items
        ],
    }
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def items(
    n: int, *, prefix: str = "https://news.example.org/story/", start_ms: int = 1_666_000_000_000
) -> list[Item]:
    """``n`` distinct items, one hour apart, newest first (as feeds list them)."""
    out = [
        Item(
            title=f"示例新闻 {i}",
            link=f"{prefix}{i}",
            body=f"<p>第 {i} 条示例新闻的正文。</p>\n  <p>第二段。</p>",
            date=dt(start_ms + i * 3_600_000),
        )
        for i in range(n)
    ]
    return list(reversed(out))


def rss091(items: list[Item]) -> bytes:
    """RSS 0.91: no guid, no content module; the body is the escaped description."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="0.91"><channel>',
        "<title>示例</title><link>https://example.org/</link><description>t</description>",
        "<language>zh-cn</language>",
    ]
    for it in items:
        out.append(
            f"<item><title>{escape(it.title)}</title><link>{escape(it.link)}</link>"
            f"<description>{escape(it.body)}</description>"
            f"<pubDate>{format_datetime(it.date)}</pubDate></item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out).encode("utf-8")
