"""Sources as OPML 2.0, the way feed readers move subscriptions between them.

Export: one ``<outline type="rss">`` per source with the attributes every reader knows
(``text``, ``title``, ``xmlUrl``, ``htmlUrl``) and newsmirror's own settings as attributes
in the namespace :data:`NS` (``nm:id``, ``nm:kind``, ``nm:fulltext``…), written only where
they differ from the defaults, so a round trip through another reader (which keeps unknown
attributes, or drops them) or back into newsmirror loses nothing newsmirror needs.

Import: every outline with an ``xmlUrl``, at any depth (readers nest them in categories),
becomes a ``[[sources]]`` table appended to the config file, whose comments and order stay
as they are; a feed already configured (same URL) is skipped; ids come from ``nm:id``, else
from the title or the host, made unique.  Each table is checked as the config would check
it, and one that would not load is skipped with the reason (an odd outline costs only
itself); the whole config is loaded again before it is kept, and left untouched if not.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from .config import SourceSettings, check_source, dw_feed_url, load
from .errors import ConfigError

NS = "urn:newsmirror:opml:1"
_Q = f"{{{NS}}}"

# Source field -> (config key, OPML attribute).  DW's listing is ``feed_url`` in the config.
_FIELDS = {
    "kind": ("kind", "kind"),
    "enabled": ("enabled", "enabled"),
    "keep_tracking_params": ("keep_tracking_params", "keepTrackingParams"),
    "language": ("language", "language"),
    "site_url": ("site_url", "siteUrl"),
    "image_format": ("image_format", "imageFormat"),
    "images": ("images", "images"),
    "script": ("script", "script"),
    "traditional": ("traditional", "traditional"),
    "fulltext": ("fulltext", "fulltext"),
    "extractor": ("extractor", "extractor"),
}
_DEFAULTS = {f.name: f.default for f in fields(SourceSettings) if f.name in _FIELDS}
_BOOLS = {"enabled", "keep_tracking_params"}
_INTS = {"image_format"}
_ID_OK = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def export(sources: tuple[SourceSettings, ...] | list[SourceSettings], title: str) -> bytes:
    """The OPML document of ``sources``."""
    root = etree.Element("opml", version="2.0", nsmap={"nm": NS})
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    body = etree.SubElement(root, "body")
    for s in sources:
        out = etree.SubElement(body, "outline")
        out.set("type", "rss")
        out.set("text", s.name)
        out.set("title", s.name)
        out.set("xmlUrl", s.url)
        if s.kind == "dw":
            out.set("htmlUrl", s.site_url)
        out.set(f"{_Q}id", s.id)
        for name, (_key, attr) in _FIELDS.items():
            value = getattr(s, name)
            default = "feed" if name == "kind" else _DEFAULTS[name]
            if name in ("language", "site_url", "image_format") and s.kind != "dw":
                continue
            if name in ("fulltext", "extractor") and s.kind == "dw":
                continue
            if value is None or value == default:
                continue
            out.set(f"{_Q}{attr}", _attr(value))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class Imported:
    """What ``import`` did: the ids added, and the feeds skipped with why."""

    added: list[str]
    skipped: list[tuple[str, str]]


def import_into(config: Path, document: bytes) -> Imported:
    """Append the OPML document's feeds to the config file as sources."""
    outlines = _outlines(document)
    # Read as TOML, not validated: a config may have no sources yet (and is then invalid).
    try:
        present = tomllib.loads(config.read_text(encoding="utf-8")).get("sources") or []
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{config}: cannot read the config: {e}") from e
    present = [t for t in present if isinstance(t, dict)]
    known_urls = {_known(t) for t in present}
    taken = {str(t.get("id")) for t in present}
    blocks: list[str] = []
    added: list[str] = []
    skipped: list[tuple[str, str]] = []
    for el in outlines:
        url = (el.get("xmlUrl") or "").strip()
        kind = el.get(f"{_Q}kind") or "feed"
        language = el.get(f"{_Q}language") or "zh"
        if not url.lower().startswith(("http://", "https://")):
            skipped.append((url or el.get("text") or "?", "not an http(s) feed address"))
            continue
        known = url if kind != "dw" else f"{url} {language}"
        if known in known_urls:
            skipped.append((url, "already a source"))
            continue
        name = " ".join((el.get("title") or el.get("text") or "").split())
        sid = _unique(
            el.get(f"{_Q}id") or _slug(name) or _slug(urlsplit(url).hostname or ""), taken
        )
        table: dict[str, Any] = {"id": sid, "name": name or sid}
        table["feed_url" if kind == "dw" else "url"] = url
        block = _toml_table(table)
        try:  # an odd outline costs only itself
            for field_name, (key, attr) in _FIELDS.items():
                raw = el.get(f"{_Q}{attr}")
                if raw is not None:
                    table[key] = _typed(field_name, raw)
            block = _toml_table(table)
            check_source(tomllib.loads(block)["sources"][0], config)
        except (ConfigError, tomllib.TOMLDecodeError) as e:
            skipped.append((url, str(e)))
            continue
        known_urls.add(known)
        taken.add(sid)
        blocks.append(block)
        added.append(sid)
    if not blocks:
        return Imported(added, skipped)
    original = config.read_text(encoding="utf-8")
    addition = "\n# Imported from OPML.\n" + "\n".join(blocks)
    config.write_text(original.rstrip("\n") + "\n" + addition, encoding="utf-8")
    try:
        load(config)
    except ConfigError:
        config.write_text(original, encoding="utf-8")
        raise
    return Imported(added, skipped)


def _known(table: dict[str, Any]) -> str:
    """What makes a configured source the same feed: its URL; for DW, the listing and the
    language (both Chinese sites share one listing)."""
    if table.get("kind") == "dw":
        language = str(table.get("language") or "zh")
        return f"{table.get('feed_url') or dw_feed_url(language)} {language}"
    return str(table.get("url") or "")


def _outlines(document: bytes) -> list[Any]:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as e:
        raise ConfigError(f"not an OPML document: {e}") from e
    if root.tag != "opml":
        raise ConfigError(f"not an OPML document: the root is <{root.tag}>")
    return [el for el in root.iter("outline") if el.get("xmlUrl") is not None]


def _typed(name: str, raw: str) -> Any:
    if name in _BOOLS:
        if raw not in ("true", "false"):
            raise ConfigError(f"OPML nm:{_FIELDS[name][1]}: {raw!r} is not true or false")
        return raw == "true"
    if name in _INTS:
        if not raw.isdigit():
            raise ConfigError(f"OPML nm:{_FIELDS[name][1]}: {raw!r} is not a number")
        return int(raw)
    return raw


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40].strip("-")
    return slug if _ID_OK.fullmatch(slug) else ""


def _unique(wanted: str, taken: set[str]) -> str:
    base = wanted if _ID_OK.fullmatch(wanted) else "source"
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m[0]):04x}", escaped) + '"'


def _toml_table(table: dict[str, Any]) -> str:
    return "[[sources]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items())
