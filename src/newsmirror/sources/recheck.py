"""Looking again at one archived article: is it still there, and is it still the same?

The answer is one :class:`Outcome`.  Only answers that say so are taken as a take-down:
404 or 410, a redirect to the outlet's home or a section page, or a page that reads as
the outlet's "not found" page.  Anything else that goes wrong (a timeout, a 500, a page
with no article text) is a failed look, never a removal: an outlet having a bad minute
is not news.  Whether a take-down is confirmed (asked again on a later pass) is decided
by the caller, which keeps the count.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, replace
from typing import Literal

from .. import urls
from ..config import SourceSettings
from ..errors import FetchError, reason
from ..extract import ExtractError
from ..extract.document import decode_html
from ..fetch.http import Response
from ..model import Article
from . import Context
from .fulltext import PAGE_ACCEPT, read_page

Kind = Literal["same", "alive", "content", "gone", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one look found.

    ``same``: 304, the copy stands.  ``alive``: the page answers (sources whose text does
    not come from the page).  ``content``: the page's article as it reads now (compare it
    with the archived one).  ``gone``: a take-down signal, ``detail`` says which.
    ``failed``: no answer worth a conclusion, ``detail`` says why.  ``skipped``: not
    asked (the pass is stopping); the schedule stays as it was.
    """

    kind: Kind
    detail: str = ""
    article: Article | None = None
    etag: str | None = None
    last_modified: str | None = None
    status: int | None = None
    response: Response | None = None  # the answer, kept as evidence of what was found
    page_title: str = ""  # the headline the page shows (pages whose text we read)


# What outlets' not-found pages say, in their title, first heading or (short pages) text.
_NOT_FOUND = re.compile(
    r"页面不存在|頁面不存在|找不到(?:该|該|您要的|你要的)?(?:页面|頁面|网页|網頁)|"
    r"(?:页面|頁面|网页|網頁)未找到|(?:内容|內容|文章|新闻|新聞)(?:不存在|已(?:被)?(?:删除|刪除))|"
    r"page (?:was )?not found|page (?:could|can) ?not be found|no longer available|"
    r"^\s*404\b|\b404\s*(?:error|not found)|error 404",
    re.I,
)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.I | re.S)
_TAGS = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.I | re.S)
_SHORT_PAGE = 1500  # characters of visible text below which the whole page is read
_HOME_FILES = {"", "/index.html", "/index.htm", "/index.php", "/index.shtml", "/default.aspx"}


def not_found_page(raw: bytes, content_type: str = "") -> str:
    """Why a page answered 200 is nonetheless the outlet's "not found" page ("" if not)."""
    text = decode_html(raw, content_type)
    for pattern in (_TITLE, _H1):
        m = pattern.search(text)
        if m and _NOT_FOUND.search(_plain(m.group(1))):
            return f"the page says {_plain(m.group(1))[:80]!r}"
    visible = _plain(text)
    if len(visible) < _SHORT_PAGE:
        m = _NOT_FOUND.search(visible)
        if m:
            return f"the page says {m.group(0).strip()!r}"
    return ""


def _plain(fragment: str) -> str:
    return " ".join(html.unescape(_TAGS.sub(" ", fragment)).split())


def moved_away(original: str, final: str) -> str:
    """Why a redirect from an article's address to ``final`` means the article is gone: it
    lands on the home page or on a section that holds the article's address ("" if not)."""
    if urls.canonical(final) == urls.canonical(original):
        return ""
    try:
        o, f = urls.parse(original), urls.parse(final)
    except urls.BadURLError:
        return ""
    path = str(f.pathname).rstrip("/")
    if path.lower() in _HOME_FILES or path.lower().rstrip("/") in {"/zh", "/zh-hans", "/zh-hant"}:
        return f"redirected to the home page {final}"
    if str(o.hostname) == str(f.hostname) and str(o.pathname).startswith(path + "/"):
        return f"redirected to the section page {final}"
    return ""


async def look(
    source: SourceSettings,
    stored: Article,
    etag: str | None,
    last_modified: str | None,
    ctx: Context,
) -> Outcome:
    """Ask the article's page again (conditionally) and say what the answer means; for
    DW, its graph-api JSON (the text comes from there)."""
    if source.kind == "dw":
        return await _look_dw(source, stored, etag, last_modified, ctx)
    try:
        response = await ctx.fetcher.get_retrying(
            stored.url, accept=PAGE_ACCEPT, etag=etag, last_modified=last_modified
        )
    except FetchError as e:
        if e.status in (404, 410):
            return Outcome("gone", f"HTTP {e.status}", status=e.status, response=e.response)
        return Outcome("failed", str(e), status=e.status)
    except Exception as e:  # whatever happens, it is this article's failed look
        return Outcome("failed", reason(e))
    return await _judge(source, stored, response, ctx)


async def _judge(
    source: SourceSettings, stored: Article, response: Response, ctx: Context
) -> Outcome:
    etag, last_modified = response.etag, response.last_modified
    if response.not_modified:
        return Outcome("same", status=304, etag=etag, last_modified=last_modified)
    why = moved_away(stored.url, response.url) or not_found_page(
        response.content, response.content_type
    )
    if why:
        return Outcome("gone", why, status=response.status, response=response)
    if source.kind != "feed" or source.fulltext != "page":
        return Outcome(
            "alive",
            status=response.status,
            etag=etag,
            last_modified=last_modified,
            response=response,
        )
    try:
        article, page_title = await read_page(source, stored, response, ctx)
    except ExtractError as e:
        return Outcome("failed", str(e), status=response.status)
    return Outcome(
        "content",
        article=article,
        status=response.status,
        etag=etag,
        last_modified=last_modified,
        response=response,
        page_title=page_title,
    )


async def _look_dw(
    source: SourceSettings,
    stored: Article,
    etag: str | None,
    last_modified: str | None,
    ctx: Context,
) -> Outcome:
    from .dw import Reader, entry_of
    from .dw_body import DWFormatError

    entry = entry_of(stored.ident, stored.url)
    if entry is None:
        return await look(
            replace(source, kind="feed", fulltext="feed"), stored, etag, last_modified, ctx
        )
    reader = Reader(source, ctx)
    url = reader.api_url(entry)
    try:
        response = await ctx.fetcher.get_retrying(
            url, accept="application/json", etag=etag, last_modified=last_modified
        )
    except FetchError as e:
        if e.status in (404, 410):
            return Outcome(
                "gone", f"graph-api: HTTP {e.status}", status=e.status, response=e.response
            )
        return Outcome("failed", str(e), status=e.status)
    except Exception as e:  # whatever happens, it is this article's failed look
        return Outcome("failed", reason(e))
    if response.not_modified:
        return Outcome("same", status=304, etag=response.etag, last_modified=response.last_modified)
    if _says_gone(response.content):
        return Outcome(
            "gone", "graph-api: no such content", status=response.status, response=response
        )
    try:
        article = await reader.from_api(response.content, entry)
    except DWFormatError as e:
        return Outcome("failed", f"graph-api: {e}", status=response.status)
    return Outcome(
        "content",
        article=article,
        status=response.status,
        etag=response.etag,
        last_modified=response.last_modified,
        response=response,
    )


def _says_gone(raw: bytes) -> bool:
    """A graph-api answer whose ``data.content`` is null: the API's "no such content"."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    data = doc.get("data") if isinstance(doc, dict) else None
    return isinstance(data, dict) and "content" in data and data["content"] is None
