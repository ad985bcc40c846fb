"""The body conventions of the archive (DESIGN.md), for bodies we build ourselves.

One place for the dateline, the picture with its grey caption and the date form, so the
DW adapter and the page extractors write the same bytes the existing mirrors do.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime

from ..model import clamp_ms

CAPTION = '<div><small style="color: #999;">{}</small></div>'


def iso_z(dt: datetime) -> str:
    """``2022-10-26T01:34:17.666Z``: the dateline form of the existing mirrors."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def iso_ms_z(ms: int) -> str:
    """:func:`iso_z` of milliseconds since the epoch (exact: no float on the way)."""
    seconds, millis = divmod(clamp_ms(ms), 1000)
    return iso_z(datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000))


def image_html(src: str, caption: str) -> str:
    """One picture as ``<img src=… width="100%">``; ``caption`` is already escaped HTML."""
    out = f'<img src="{html.escape(src)}" width="100%">'
    return out + (CAPTION.format(caption) if caption else "")


def dateline(authors: Iterable[str], when: str) -> str:
    """``<div><i>{authors joined with 、}<br>{when}</i></div>``."""
    return f"<div><i>{html.escape('、'.join(authors), quote=False)}<br>{when}</i></div>"
