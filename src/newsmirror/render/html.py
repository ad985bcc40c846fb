"""HTML pages of the static site: templates, and article bodies adapted to the site.

Pure: data in, bytes out.  Every page links with paths relative to itself (``root`` is the
way back to the site's top), and names ``index.html`` explicitly, so the same files work on
GitHub Pages under a sub-path, behind a CDN, or opened from a USB stick.

Pages carry a Content-Security-Policy that allows nothing from other hosts except the image
proxies in use: a reader's browser makes no request a censor could watch or block, other
than the images they chose to route through a proxy.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from functools import cached_property
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jinja2

from ..model import clamp_ms

# Dates are shown, and days cut, in UTC+8 like the source lists: the readers' clock.
READER_TZ = timezone(timedelta(hours=8))

_HREF = re.compile(r"""(\s(?:href|src)=)(["'])([^"'#?:]*?)\.md([#?][^"']*)?\2""")
_IFRAME = re.compile(r"<iframe\b[^>]*?\bsrc=([\"'])(.*?)\1[^>]*>.*?</iframe>", re.S | re.I)


def template_text(name: str) -> str:
    """A packaged template or static file, as text."""
    return (resources.files(__package__) / "templates" / name).read_text(encoding="utf-8")


def md_to_html(path: str) -> str:
    """The site page of an archive file: ``articles/x/1.md`` -> ``articles/x/1.html``."""
    return path[:-3] + ".html" if path.endswith(".md") else path


def root_of(page: str) -> str:
    """The relative way from ``page`` back to the top of the site ("" at the top)."""
    return "../" * page.count("/")


def site_body(body: str) -> str:
    """An archived body as the site shows it.

    Relative links to other article files (``../x.md``) lead to their pages; embedded
    players (the only third-party frames the sanitizer lets through) become plain links, so
    opening a page fetches nothing from the player's host.
    """
    body = _HREF.sub(lambda m: f"{m[1]}{m[2]}{m[3]}.html{m[4] or ''}{m[2]}", body)
    return _IFRAME.sub(
        lambda m: f'<p><a href="{m[2]}" rel="nofollow noopener noreferrer">▶ {m[2]}</a></p>', body
    )


# The archive's dateline at the start of a body (after a link to the other script's copy):
# ``<div><i>authors<br>2026-11-20T07:30:12.345Z</i></div>``.
_DATELINE = re.compile(
    r"^((?:\s*<div><a [^>]*>[^<]*</a></div>)?)\s*<div><i>([^<]*)<br>[^<]*</i></div>"
)


def without_dateline(body: str) -> tuple[str, str]:
    """The body without its dateline, and the dateline's authors.

    A site page shows the authors and the date once, in its own line and in the reader's
    time zone; the dateline repeats them with a raw ISO date (and, for an article taken
    from its page, the page's date, which may differ from the feed's).
    """
    m = _DATELINE.match(body)
    if not m:
        return body, ""
    return m[1] + body[m.end() :], html.unescape(m[2]).strip()


def when(ms: int) -> tuple[str, str]:
    """``(ISO 8601 in UTC, "YYYY-MM-DD HH:MM" in UTC+8)`` for a date in ms."""
    t = datetime.fromtimestamp(clamp_ms(ms) / 1000, UTC)
    return (
        t.isoformat(timespec="seconds").replace("+00:00", "Z"),
        t.astimezone(READER_TZ).strftime("%Y-%m-%d %H:%M"),
    )


def day_of(ms: int) -> str:
    """The UTC+8 day of a date in ms, ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(clamp_ms(ms) / 1000, READER_TZ).strftime("%Y-%m-%d")


def csp(image_hosts: Iterable[str], any_image: bool) -> str:
    """The Content-Security-Policy of every page.

    ``image_hosts``: origins of the configured image proxies; ``any_image``: some source
    keeps original image URLs, so any https image must load.  Scripts only from the site
    itself (Pagefind's search page; it needs WebAssembly), never inline.
    """
    img = "'self' data: https:" if any_image else " ".join(["'self'", "data:", *image_hosts])
    return (
        f"default-src 'self'; img-src {img}; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; frame-src 'none'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'"
    )


def origin(template: str) -> str:
    """``https://host[:port]`` of a URL template."""
    parts = urlsplit(template)
    return f"{parts.scheme}://{parts.netloc}"


class Pages:
    """The site's templates, configured once per build."""

    def __init__(self, site_title: str, policy: str) -> None:
        self.globals: dict[str, Any] = {"site": {"title": site_title}, "csp": policy}

    @cached_property
    def env(self) -> jinja2.Environment:
        return jinja2.Environment(
            loader=jinja2.FunctionLoader(template_text),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )

    def render(self, template: str, page: str, **context: Any) -> bytes:
        """Page ``page`` (its site path) from ``template``."""
        out = self.env.get_template(template).render(**self.globals, root=root_of(page), **context)
        return out.encode("utf-8")
