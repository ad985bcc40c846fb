"""Simplified and Traditional Chinese: articles written in the script their readers use.

OpenCC converts phrase by phrase (头发 -> 頭髮, 软件 -> 軟體 with Taiwan phrases), which a
character table cannot.  Only text is converted: tags, attributes, entities and URLs written
out in the text are split off first and kept byte for byte, so links and images still work.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Literal

import opencc

from ..model import Article

Script = Literal["hans", "hant"]

_TO_TRADITIONAL = {"standard": "s2t", "tw": "s2tw", "twp": "s2twp", "hk": "s2hk"}
# Markup, character references and URLs in the text: never converted.
_KEEP = re.compile(
    r"(<[^>]*>|&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);|https?://[^\s<>\"']+)"
)
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LABELS: dict[Script, str] = {"hans": "简体中文", "hant": "繁體中文"}


@lru_cache(maxsize=8)
def converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(f"{config}.json")


def config_for(target: Script, traditional: str = "standard") -> str:
    """The OpenCC configuration that writes ``target``."""
    return "t2s" if target == "hans" else _TO_TRADITIONAL[traditional]


def convert_html(body: str, config: str) -> str:
    """The text of an HTML fragment converted; markup, references and URLs untouched."""
    if not _HAN.search(body):
        return body
    convert = converter(config).convert
    parts = _KEEP.split(body)
    # split() with one group puts the kept pieces at the odd indexes.
    for i in range(0, len(parts), 2):
        if parts[i] and _HAN.search(parts[i]):
            parts[i] = convert(parts[i])
    return "".join(parts)


def detect(text: str) -> Script:
    """The script ``text`` is mostly written in (Simplified when it cannot tell)."""
    sample = "".join(_HAN.findall(_KEEP.sub("", text)))[:4000]
    if not sample:
        return "hans"
    to_t = sum(a != b for a, b in zip(sample, converter("s2t").convert(sample), strict=False))
    to_s = sum(a != b for a, b in zip(sample, converter("t2s").convert(sample), strict=False))
    return "hant" if to_s > to_t else "hans"


def convert_article(article: Article, target: Script, traditional: str = "standard") -> Article:
    """Title and body of ``article`` in ``target``; the link and everything else as is."""
    config = config_for(target, traditional)
    language = "zh-Hans" if target == "hans" else "zh-Hant"
    return replace(
        article,
        title=convert_html(article.title, config),  # text is HTML without markup
        body=convert_html(article.body, config),
        language=language,
    )


def variant_path(path: str, script: Script) -> str:
    """Where the second script of a file goes: beside it, ``1048574.md`` -> ``1048574.hant.md``."""
    return f"{path.removesuffix('.md')}.{script}.md"


_CROSS_LINK = re.compile(r'<div><a href="[^"<>]*\.han[st]\.md">(?:简体中文|繁體中文)</a></div>')


def strip_cross_link(body: str) -> str:
    """A body read back from a file without the link to its second script (ours, added
    again when it is rendered)."""
    m = _CROSS_LINK.match(body)
    return body[m.end() :] if m else body


def variant_script(path: str) -> Script:
    """The script a second-script file (``x.hant.md``, ``x.hant.html``) is written in."""
    return "hant" if ".hant." in path.rsplit("/", 1)[-1] else "hans"


def is_variant(name: str) -> bool:
    """True for a second-script file name (never adopted as an article of its own)."""
    return name.endswith((".hans.md", ".hant.md"))
