"""A period's static site as one zip file: copied to a USB stick or sent as a file, it
opens in any browser from the folder (every link is relative and names its ``.html``
file).  Search needs a server, so it is left out; the rest is the site as published.
"""

from __future__ import annotations

import html
import posixpath
import re
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..config import Settings
from ..store.catalog import Catalog
from .site import Row, SiteBuilder

_PICTURE = re.compile(rb'src="(?:\.\./)*(assets/[^"]+)"')
_HREF = re.compile(r'(\shref=")([^":#?]+\.html)"')
_STORED = (".jpg", ".png", ".gif", ".webp", ".avif")  # compressed already


def write(
    path: Path,
    settings: Settings,
    catalog: Catalog,
    start_ms: int,
    end_ms: int,
    sources: Sequence[str] = (),
) -> int:
    """Zip the site of the articles dated in ``[start_ms, end_ms)`` (of ``sources``, all
    when empty) into ``path``, under one folder named like the file; returns its size."""
    wanted = set(sources)

    def only(r: Row) -> bool:
        return start_ms <= r.date_ms < end_ms and (not wanted or r.source in wanted)

    with tempfile.TemporaryDirectory(prefix="newsmirror-site-") as tmp:
        root = Path(tmp) / "site"
        snapshot = replace(settings, site=replace(settings.site, path=root, pagefind=False))
        SiteBuilder(snapshot, catalog, pagefind=False, only=only).build()
        pages = sorted(
            p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "assets"
        )
        here = {p.relative_to(root).as_posix() for p in pages}
        shown: set[str] = set()
        for p in pages:
            if p.suffix == ".html":
                _outward(p, root, here, settings, catalog)
                shown |= {m.decode() for m in _PICTURE.findall(p.read_bytes())}
        top = path.name.removesuffix(".zip")
        tmp_zip = path.with_name(path.name + ".tmp")
        with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as z:
            for p in pages:
                rel = p.relative_to(root).as_posix()
                if not rel.startswith("."):
                    z.write(p, f"{top}/{rel}")
            for picture in sorted(shown):
                if (root / picture).is_file():
                    kind = zipfile.ZIP_STORED if picture.endswith(_STORED) else None
                    z.write(root / picture, f"{top}/{picture}", compress_type=kind)
        tmp_zip.replace(path)
    return path.stat().st_size


def _outward(page: Path, root: Path, here: set[str], settings: Settings, catalog: Catalog) -> None:
    """Links to articles outside the period lead to the published site (``[site]
    base_url``) or else to the outlet, instead of to pages the zip does not hold."""
    text = page.read_text(encoding="utf-8")
    folder = posixpath.dirname(page.relative_to(root).as_posix())

    def link(m: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(folder, html.unescape(m.group(2))))
        if target in here or not target.startswith("articles/"):
            return m.group(0)
        if settings.site.base_url:
            return f'{m.group(1)}{html.escape(settings.site.base_url + target)}"'
        md = target.removesuffix(".html") + ".md"
        row = catalog.db.execute(
            "SELECT url FROM articles WHERE path = ? OR alt_path = ?", (md, md)
        ).fetchone()
        return f'{m.group(1)}{html.escape(row[0])}"' if row else m.group(0)

    new = _HREF.sub(link, text)
    if new != text:
        page.write_text(new, encoding="utf-8")
