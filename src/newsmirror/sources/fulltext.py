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
from dataclasses import replace

from .. import urls
from ..config import SourceSettings
from ..errors import FetchError
from ..extract import ExtractError, extract, render_body
from ..extract.blocks import block_text
from ..extract.outlets import extractor_for
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


async def _complete(source: SourceSettings, a: Article, ctx: Context) -> Article | ItemError:
    page_url = a.url
    try:
        response = await ctx.fetcher.get_retrying(page_url, accept=PAGE_ACCEPT)
        name = extractor_name(source, response.url)
        page = extract(response.content, response.url, response.content_type, name)
    except (FetchError, ExtractError) as e:
        too_large = isinstance(e, FetchError) and e.too_large
        return ItemError(source=source.id, where=a.url, reason=str(e), retry=not too_large)
    # Only the feed's identity, title and date stand; an undated item (dated "now" by the
    # feed reader) takes the page's date.
    date_ms = a.date_ms
    if a.date_ms == ctx.now_ms:
        date_ms = page.modified_ms or page.published_ms or a.date_ms
    authors = page.authors or a.authors
    body = render_body(page, page.published_ms or date_ms, authors)
    return replace(
        a,
        title=a.title if a.title != a.url else (page.title or a.title),
        date_ms=date_ms,
        body=sanitize(body, response.url, ctx.iframe_hosts),
        authors=authors,
    )


async def complete(
    source: SourceSettings, articles: list[Article], ctx: Context
) -> tuple[list[Article], list[ItemError]]:
    """The articles with their page's text where the source wants it.

    Articles the catalog holds with the same date are left out (their page is not
    fetched again); so are undated ones it holds at all.
    """
    if source.fulltext == "feed":
        return articles, []
    wanted = [a for a in articles if source.fulltext == "page" or is_teaser(a.body)]
    if not wanted:
        return articles, []
    known = ctx.known_dates([a.ident for a in wanted])
    todo = [
        a
        for a in wanted
        if a.ident not in known or (a.date_ms != known[a.ident] and a.date_ms != ctx.now_ms)
    ]
    done = await asyncio.gather(*(_complete(source, a, ctx) for a in todo))
    by_ident = {a.ident: a for a in done if isinstance(a, Article)}
    skip = {a.ident for a in wanted} - by_ident.keys()
    out = [by_ident.get(a.ident, a) for a in articles if a.ident not in skip]
    return out, [e for e in done if isinstance(e, ItemError)]
