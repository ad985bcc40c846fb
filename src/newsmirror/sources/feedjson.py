"""Reading JSON Feed (1.0 and 1.1) documents.

JSON Feed is simple enough that a wrong type in one field is the common failure, not a
broken document: ``authors`` given as an object, ``author`` as a string, a number where a
string belongs.  Each field is read on its own and a field of the wrong type is left out
(logged), so it costs nothing else; an item that is not an object is that item's error;
only a document that is not JSON, or whose ``items`` is not a list, is refused, in JSON's
own words.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..errors import ParseError
from .feedxml import Entry, Text, date_ms

log = logging.getLogger(__name__)


def _str(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and key == "id":
        return str(value)  # JSON Feed 1.0 publishers wrote numeric ids
    log.debug("%s: %r is a %s, not a string; left out", where, key, type(value).__name__)
    return ""


def _date(item: dict[str, Any], key: str, where: str) -> int | None:
    return date_ms(_str(item, key, where))


def _authors(item: dict[str, Any], where: str) -> list[str]:
    """``authors`` (1.1, a list of objects) or ``author`` (1.0, an object), leniently."""
    found: list[Any] = []
    for key in ("authors", "author"):
        value = item.get(key)
        if isinstance(value, list):
            found += value
        elif value is not None:
            found.append(value)
    names = []
    for a in found:
        name = a.get("name") if isinstance(a, dict) else a
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
        else:
            log.debug("%s: an author that is not an object with a name; left out", where)
    return names


def read_json(raw: bytes) -> tuple[list[Entry], list[tuple[str, str]]]:
    """Entries of a JSON Feed, and ``(where, why)`` for each item that is not one."""
    try:  # json's C decoder refuses hostile nesting with a RecursionError
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise ParseError(f"not a JSON Feed: {e}") from e
    if not isinstance(doc, dict):
        raise ParseError(f"not a JSON Feed: the document is a {type(doc).__name__}, not an object")
    items = doc.get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ParseError(f"not a JSON Feed: 'items' is a {type(items).__name__}, not a list")
    entries: list[Entry] = []
    problems: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        where = f"item #{i + 1}"
        if not isinstance(item, dict):
            problems.append(
                (where, f"a JSON Feed item must be an object, not {type(item).__name__}")
            )
            continue
        entry = Entry()
        entry.guid = _str(item, "id", where)
        entry.link = _str(item, "url", where) or _str(item, "external_url", where)
        title = _str(item, "title", where)
        entry.title = Text(title, False) if title else None
        body_html = _str(item, "content_html", where)
        body_text = _str(item, "content_text", where)
        if body_html.strip():
            entry.content = Text(body_html, True)
        elif body_text.strip():
            entry.content = Text(body_text, False)
        summary = _str(item, "summary", where)
        entry.summary = Text(summary, False) if summary else None
        entry.published = _date(item, "date_published", where)
        entry.updated = _date(item, "date_modified", where)
        entry.authors = _authors(item, where)
        entries.append(entry)
    return entries, problems
