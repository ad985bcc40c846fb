"""Getting the text of a document right before any parser sees it.

Chinese feeds and pages often say one charset and are another: "UTF-8" that is GBK,
"GB2312" that uses GBK or GB18030 characters, no declaration at all on Big5.  Parsers then
produce mojibake without complaint.  This module re-encodes such XML documents as UTF-8
with a matching declaration:

- a declared GB2312/GBK/GB18030 document is decoded as GB18030 (their superset);
- a document declared UTF-8 (or undeclared) that is not valid UTF-8 is detected
  (charset-normalizer) and transcoded;
- C0 control characters, illegal in XML 1.0, are removed: in UTF-8, GB18030 and Big5 they
  are never part of a multibyte character, so this is safe at the byte level.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_DECL = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([A-Za-z0-9._-]+)([\"'])")
_CONTROL = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_GB = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "ms936", "euc-cn", "hz-gb-2312"}
_BIG5 = {"big5", "big5-hkscs", "cp950", "x-big5"}
_WIDE_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def declared_encoding(raw: bytes) -> str | None:
    """The encoding named in the XML declaration, lower-cased."""
    m = _DECL.match(raw[:300])
    return m.group(2).decode("ascii").lower() if m else None


def _with_declaration(text: str, raw: bytes) -> bytes:
    data = text.encode("utf-8")
    if _DECL.match(data[:300]):
        return _DECL.sub(rb"\1utf-8\3", data, count=1)
    return data


def _detect(raw: bytes) -> str | None:
    best = from_bytes(raw[:200_000], cp_isolation=["gb18030", "big5hkscs", "utf_8", "cp1252"])
    match = best.best()
    return match.encoding if match else None


def xml_to_utf8(raw: bytes) -> bytes:
    """An XML document as UTF-8 with a truthful declaration; unchanged when already right."""
    if raw.startswith(_WIDE_BOMS):
        return raw
    raw = raw.translate(None, _CONTROL)
    declared = declared_encoding(raw)
    if declared in _GB:
        return _with_declaration(raw.decode("gb18030", "replace"), raw)
    if declared in _BIG5:
        return _with_declaration(raw.decode("big5hkscs", "replace"), raw)
    if declared not in (None, "utf-8", "utf8"):
        return raw  # a charset the parsers know; trust it
    body = raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        pass
    encoding = _detect(body) or "gb18030"
    return _with_declaration(body.decode(encoding, "replace"), body)
