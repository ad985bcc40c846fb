"""An EPUB 3 e-book of a bundle's articles.

A cover page (title and period), a table of contents grouped by source and day, one
XHTML document per article (title, date, source, link to the original, body) and the
pictures inside the book.  EPUB 3.2's core media types are JPEG, PNG, GIF and SVG: other
pictures become their alternative text.  The zip is written beside its final name and
renamed, ``mimetype`` first and stored, as the format requires.
"""

from __future__ import annotations

import uuid
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from ..render.html import day_of, when
from . import Item, Picture, clean_body

CORE = ("image/jpeg", "image/png", "image/gif")
_XHTML = "http://www.w3.org/1999/xhtml"
_CSS = (
    "body { font-family: serif; line-height: 1.6; } h1 { font-size: 1.4em; } "
    ".meta { color: #666; font-size: .9em; } img { max-width: 100%; } "
    "small { color: #666; }"
)


def _doc(title: str, body: str, lang: str, *, nav: bool = False) -> str:
    ns = ' xmlns:epub="http://www.idpf.org/2007/ops"' if nav else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
        f'<html xmlns="{_XHTML}"{ns} xml:lang="{lang}" lang="{lang}"><head>'
        f'<meta charset="utf-8"/><title>{escape(title)}</title>'
        '<link rel="stylesheet" type="text/css" href="style.css"/></head>'
        f"<body>{body}</body></html>"
    )


def write(
    path: Path,
    title: str,
    label: str,
    items: Sequence[Item],
    pictures: dict[str, Picture | None],
    lang: str = "zh",
) -> int:
    """Write the book; returns its size in bytes."""
    embedded = {src: p for src, p in pictures.items() if p is not None and p.media_type in CORE}
    refs = {src: f"images/{p.name}" for src, p in embedded.items()}
    docs: list[tuple[str, str]] = []  # (file name, XHTML)
    cover = f'<h1>{escape(title)}</h1><p class="meta">{escape(label)} · {len(items)} 篇</p>'
    docs.append(("cover.xhtml", _doc(title, cover, lang)))
    toc: list[str] = []
    source = day = None
    for n, it in enumerate(items, 1):
        name = f"a{n:05d}.xhtml"
        iso, shown = when(it.date_ms)
        head = (
            f'<h1>{escape(it.title)}</h1><p class="meta">{escape(it.source_name)} · '
            f'<time datetime="{iso}">{shown}</time> · '
            f'<a href="{escape(it.url)}">原文</a></p>'
        )
        docs.append((name, _doc(it.title, head + clean_body(it.body, refs), lang)))
        if it.source_id != source:
            if source is not None:
                toc.append("</ol></li></ol></li>")
            source, day = it.source_id, None
            toc.append(f"<li><span>{escape(it.source_name)}</span><ol>")
        if day_of(it.date_ms) != day:
            if day is not None:
                toc.append("</ol></li>")
            day = day_of(it.date_ms)
            toc.append(f"<li><span>{day}</span><ol>")
        toc.append(f'<li><a href="{name}">{escape(it.title)}</a></li>')
    if source is not None:
        toc.append("</ol></li></ol></li>")
    nav = (
        f'<nav epub:type="toc" id="toc"><h1>目录</h1><ol><li><a href="cover.xhtml">'
        f"{escape(title)}</a></li>{''.join(toc)}</ol></nav>"
    )
    book_id = uuid.uuid5(uuid.NAMESPACE_URL, f"newsmirror:{title}:{label}")
    modified = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = [
        '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>',
        '<item id="css" href="style.css" media-type="text/css"/>',
    ]
    spine = []
    for i, (name, _x) in enumerate(docs):
        manifest.append(f'<item id="d{i}" href="{name}" media-type="application/xhtml+xml"/>')
        spine.append(f'<itemref idref="d{i}"/>')
    seen: set[str] = set()
    for p in embedded.values():
        if p.name not in seen:
            seen.add(p.name)
            manifest.append(
                f'<item id="i{len(seen)}" href="images/{p.name}" media-type="{p.media_type}"/>'
            )
    opf = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:identifier id="id">urn:uuid:{book_id}</dc:identifier>'
        f"<dc:title>{escape(title)} · {escape(label)}</dc:title>"
        f"<dc:language>{lang}</dc:language>"
        f'<meta property="dcterms:modified">{modified}</meta></metadata>'
        f"<manifest>{''.join(manifest)}</manifest><spine>{''.join(spine)}</spine></package>"
    )
    container = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<rootfiles><rootfile full-path="OEBPS/content.opf" '
        'media-type="application/oebps-package+xml"/></rootfiles></container>'
    )
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", container, zipfile.ZIP_DEFLATED)
        z.writestr("OEBPS/content.opf", opf, zipfile.ZIP_DEFLATED)
        z.writestr("OEBPS/nav.xhtml", _doc("目录", nav, lang, nav=True), zipfile.ZIP_DEFLATED)
        z.writestr("OEBPS/style.css", _CSS, zipfile.ZIP_DEFLATED)
        for name, xhtml in docs:
            z.writestr(f"OEBPS/{name}", xhtml, zipfile.ZIP_DEFLATED)
        written: set[str] = set()
        for p in embedded.values():
            if p.name not in written:
                written.add(p.name)
                z.writestr(f"OEBPS/images/{p.name}", p.data, zipfile.ZIP_STORED)
    tmp.replace(path)
    return path.stat().st_size
