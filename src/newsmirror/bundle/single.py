"""A single HTML file of a bundle's articles: styles inline, pictures as ``data:`` URIs,
no request to anywhere — it opens offline from a chat attachment or a USB stick."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from pathlib import Path

from ..render.html import when
from . import Item, Picture, clean_body

_CSS = (
    "body{margin:0 auto;max-width:44rem;padding:0 1rem 3rem;line-height:1.75;"
    'font-family:system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif}'
    "img{max-width:100%;height:auto}.meta,small{color:#666;font-size:.9rem}"
    "article{border-top:1px solid #ddd;margin-top:2rem}nav li{margin:.2rem 0}"
)


def write(
    path: Path,
    title: str,
    label: str,
    items: Sequence[Item],
    pictures: dict[str, Picture | None],
    lang: str = "zh",
) -> int:
    """Write the page; returns its size in bytes."""
    refs = {
        src: f"data:{p.media_type};base64,{base64.b64encode(p.data).decode('ascii')}"
        for src, p in pictures.items()
        if p is not None
    }
    toc, parts = [], []
    source = None
    for n, it in enumerate(items, 1):
        if it.source_id != source:
            if source is not None:
                toc.append("</ul>")
            source = it.source_id
            toc.append(f"<h2>{escape(it.source_name)}</h2><ul>")
        iso, shown = when(it.date_ms)
        toc.append(
            f'<li><a href="#a{n}">{escape(it.title)}</a> <span class="meta">{shown}</span></li>'
        )
        parts.append(
            f'<article id="a{n}"><h1>{escape(it.title)}</h1><p class="meta">'
            f'{escape(it.source_name)} · <time datetime="{iso}">{shown}</time> · '
            f'<a href="{escape(it.url)}">原文</a> · <a href="#top">目录</a></p>'
            f"{clean_body(it.body, refs)}</article>"
        )
    if source is not None:
        toc.append("</ul>")
    page = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Nothing may be fetched: pictures are inside, links leave only when followed.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{escape(title)} · {escape(label)}</title><style>{_CSS}</style></head>"
        f'<body><header id="top"><h1>{escape(title)}</h1><p class="meta">{escape(label)} · '
        f"{len(items)} 篇</p></header><nav>{''.join(toc)}</nav>{''.join(parts)}</body></html>"
    )
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path.stat().st_size
