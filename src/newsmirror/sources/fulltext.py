"""Full text for feeds that carry a teaser: each article's page, fetched and extracted.

A ``feed`` source with ``fulltext = "page"`` takes every article's text from its page;
with ``"auto"`` only the items whose body looks like a teaser (short, or ending in "…" or
a "read more" line) are completed.  Pages are fetched under the same limits and
politeness as feeds (per-host concurrency and delay, a pause when a server says 429 or
503), asked again after a transient failure, and never fetched again for an article the
catalog already holds in the same version.  An article whose page cannot be had or read
becomes an item error naming it, and is tried again on the next pass; the teaser is not
stored in its place.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections import defaultdict
from dataclasses import replace

from .. import urls
from ..config import SourceSettings
from ..errors import FetchError, reason
from ..extract import ExtractError, extract, render_body
from ..extract.blocks import block_text
from ..extract.outlets import extractor_for
from ..fetch.http import Fetcher, Response
from ..model import Article, ItemError
from ..transform.sanitize import sanitize
from . import Context

# A body with less text than this is a teaser: Chinese news articles are rarely shorter
# than 300 characters, and outlets' summaries rarely longer than 200.
TEASER_CHARS = 300
_TEASER_END = re.compile(
    r"(?:…|\.\.\.|\[…]|\[\.\.\.]|read more|continue reading|more\s*»|阅读全文|閱讀全文|"
    r"继续阅读|繼續閱讀|点击阅读|點擊閱讀|查看全文|详情|詳情)\W*$",
    re.I,
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


def is_teaser(body_html: str) -> bool:
    """True when a feed item's body is a summary rather than the article."""
    text = block_text(body_html)
    return len(text) < TEASER_CHARS or bool(_TEASER_END.search(text))


def extractor_name(source: SourceSettings, page_url: str) -> str:
    """The extractor a source asks for, or the one its pages' host calls for."""
    if source.extractor != "auto":
        return source.extractor
    try:
        host = str(urls.parse(page_url).hostname)
    except urls.BadURLError:
        return "generic"
    return extractor_for(host)


# After this many refusals (403, 429) from one server in a pass, its remaining pages wait
# for the next pass: outlets that block datacenter addresses answer every page the same.
MAX_REFUSALS = 3


class Refusals:
    """Per server: how many pages may be asked at once, and whether it refused enough
    already.  The fetcher limits requests per host too; this also makes each page wait for
    the answers before it, so a refusal is counted before the next page is asked.  The
    counts are the fetcher's manners': every source of a pass shares them, and so does
    every worker of a PostgreSQL catalog."""

    def __init__(self, fetcher: Fetcher) -> None:
        width = fetcher.network.per_host_concurrency
        self.slots: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(width))
        self.manners = fetcher.manners

    async def why_not(self, server: str) -> str:
        """Why no more pages are asked of ``server`` this pass ("" while they are)."""
        if await self.manners.refusals(server) >= MAX_REFUSALS:
            return f"not asked: {server} refused {MAX_REFUSALS} pages this pass"
        return ""

    async def note(self, server: str, status: int | None) -> None:
        """Count an answer that refused a page (403, 429)."""
        if status in (403, 429):
            await self.manners.refused(server)


_REFUSALS: weakref.WeakKeyDictionary[Fetcher, Refusals] = weakref.WeakKeyDictionary()


def refusals_of(fetcher: Fetcher) -> Refusals:
    """The :class:`Refusals` of ``fetcher``'s pass: one for all its sources and looks, so
    their pages of one server wait for each other's answers too."""
    if fetcher not in _REFUSALS:
        _REFUSALS[fetcher] = Refusals(fetcher)
    return _REFUSALS[fetcher]


class _Pass:
    """The pages of one source in one pass (refusals counted with the pass's others)."""

    def __init__(self, source: SourceSettings, ctx: Context, keep: frozenset[str]) -> None:
        self.source = source
        self.ctx = ctx
        self.keep = keep  # idents whose page answers are kept (archived ones: maybe edits)
        self.answers: dict[str, Response] = {}
        self.refusals = refusals_of(ctx.fetcher)

    def _error(self, a: Article, reason: str, retry: bool = True) -> ItemError:
        return ItemError(source=self.source.id, where=a.url, reason=reason, retry=retry)

    async def complete(self, a: Article) -> Article | ItemError:
        """One article with its page's text, or the error that kept it from it."""
        try:
            return await self._complete(a)
        except Exception as e:  # whatever a page does, it costs only its article
            return self._error(a, reason(e))

    async def _complete(self, a: Article) -> Article | ItemError:
        server = server_of(a.url)
        async with self.refusals.slots[server]:
            if why := await self.refusals.why_not(server):
                return self._error(a, why)
            try:
                response = await self.ctx.fetcher.get_retrying(a.url, accept=PAGE_ACCEPT)
            except FetchError as e:
                await self.refusals.note(server, e.status)
                return self._error(a, str(e), retry=not e.too_large)
        if a.ident in self.keep:
            self.answers[a.ident] = response
        try:
            # CPU work (parsing, trafilatura): off the event loop, so other fetches go on.
            return await page_article(self.source, a, response, self.ctx)
        except ExtractError as e:
            return self._error(a, str(e))


async def page_article(
    source: SourceSettings, a: Article, response: Response, ctx: Context
) -> Article:
    """``a`` with the text of its page (``response``); raises ExtractError if it has none.

    Only the feed's identity, title and date stand; an undated item (dated "now" by the
    feed reader) takes the page's date.
    """
    return (await read_page(source, a, response, ctx))[0]


async def read_page(
    source: SourceSettings, a: Article, response: Response, ctx: Context
) -> tuple[Article, str]:
    """:func:`page_article`, and the headline the page itself shows ("" if none)."""
    name = extractor_name(source, response.url)
    return await ctx.cpu(
        _read_page,
        a,
        response.content,
        response.url,
        response.content_type,
        name,
        undated=a.date_ms == ctx.now_ms,
        iframe_hosts=ctx.iframe_hosts,
    )


def _read_page(
    a: Article,
    content: bytes,
    url: str,
    content_type: str,
    name: str,
    *,
    undated: bool,
    iframe_hosts: tuple[str, ...],
) -> tuple[Article, str]:
    """The CPU part of :func:`read_page` (extracting, rendering, sanitizing), in one job."""
    page = extract(content, url, content_type, name)
    date_ms = a.date_ms
    if undated:
        date_ms = page.modified_ms or page.published_ms or a.date_ms
    authors = page.authors or a.authors
    body = render_body(page, page.published_ms or date_ms, authors)
    article = replace(
        a,
        title=a.title if a.title != a.url else (page.title or a.title),
        date_ms=date_ms,
        body=sanitize(body, url, iframe_hosts),
        authors=authors,
    )
    return article, " ".join((page.title or "").split())


def server_of(url: str) -> str:
    """The server (host and port) a URL is asked from, for per-server counts."""
    try:
        return str(urls.parse(url).host)
    except urls.BadURLError:
        return url


async def complete(
    source: SourceSettings, articles: list[Article], ctx: Context
) -> tuple[list[Article], list[ItemError], dict[str, Response]]:
    """The articles with their page's text where the source wants it, and the page
    answers of articles the catalog already holds (evidence, should they be edits).

    Articles the catalog holds with the same date are left out (their page is not
    fetched again); so are undated ones it holds at all.
    """
    if source.fulltext == "feed":
        return articles, [], {}
    wanted = [a for a in articles if source.fulltext == "page" or is_teaser(a.body)]
    if not wanted:
        return articles, [], {}
    known = ctx.known_dates([a.ident for a in wanted])
    todo = [
        a
        for a in wanted
        if a.ident not in known or (a.date_ms != known[a.ident] and a.date_ms != ctx.now_ms)
    ]
    run = _Pass(source, ctx, frozenset(known))
    done = await asyncio.gather(*(run.complete(a) for a in todo))
    by_ident = {a.ident: a for a in done if isinstance(a, Article)}
    skip = {a.ident for a in wanted} - by_ident.keys()
    out = [by_ident.get(a.ident, a) for a in articles if a.ident not in skip]
    return out, [e for e in done if isinstance(e, ItemError)], run.answers
