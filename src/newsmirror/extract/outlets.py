"""The outlets whose pages a few selectors describe (see ``SOURCES.md``).

BBC needs code (its article is JSON inside the page): :mod:`newsmirror.extract.bbc`.
Anything not listed here goes to the generic extractor.
"""

from __future__ import annotations

from .rules import Rules

VOA = Rules(
    name="voa",
    body=("div#article-content", "div.wsw"),
    drop=(".wsw__embed", ".media-block-wrap .share", ".article-share"),
    lead=("div.cover-media",),
    published=(".published .date time[datetime]", "time[datetime]"),
    authors=(".authors .links__item-link", ".links__item-link.author"),
)

RFI = Rules(
    name="rfi",
    body=(".t-content__chapo, .t-content__main-media, .t-content__body",),
    drop=(".m-interstitial", ".o-self-promo", ".m-em-quote-share", ".o-related"),
)

NYT = Rules(
    name="nyt",
    body=("section.article-body",),
    drop=("div.big_ad", "div.article-body-aside", ".article-body-related"),
    paragraphs=("div.article-paragraph",),
    lead=("figure.article-span-photo",),
    published=("time[datetime]",),
    authors=(".byline-author", "meta[name=byl]"),
    # The closing reader-letters line ("欢迎在Twitter上关注…/…cn.letters@nytimes.com。").
    furniture=(r"cn\.letters@nytimes\.com",),
    tz_hours=8,
)

RFA = Rules(
    name="rfa",
    body=("div#storytext",),
    drop=(".sharethis", "#socialmedia", ".adsense"),
    lead=("#headerimg",),
    published=("span#story_date",),
    authors=("#story_byline span", ".story_byline"),
    tz_hours=-5,
)

CDT = Rules(
    name="cdt",
    body=("div.post-content",),
    drop=(".sharedaddy", ".jp-relatedposts", ".post-tags", ".yarpp-related", "#comments"),
    published=("time.entry-date[datetime]", "time[datetime]"),
    authors=(".author a", ".byline a"),
)

# BBC pages older than the JSON ones: the article is the page's main element.
BBC_MAIN = Rules(
    name="bbc",
    body=('main[role="main"]',),
    drop=(
        "header",
        "nav",
        "aside",
        '[data-e2e="related-content-heading"]',
        "section[aria-labelledby]",
        "h1",
        "time",
        "script",
    ),
    published=("time[datetime]",),
)

RULES: dict[str, Rules] = {r.name: r for r in (VOA, RFI, NYT, RFA, CDT)}

# Hosts whose pages these extractors know, for sources that do not name one.
HOSTS: dict[str, str] = {
    "bbc.com": "bbc",
    "bbc.co.uk": "bbc",
    "voachinese.com": "voa",
    "voacantonese.com": "voa",
    "rfi.fr": "rfi",
    "cn.nytimes.com": "nyt",
    "rfa.org": "rfa",
    "chinadigitaltimes.net": "cdt",
}


def extractor_for(host: str) -> str:
    """The extractor name for a page's host (``generic`` when none fits)."""
    host = host.lower().rstrip(".")
    while host:
        if host in HOSTS:
            return HOSTS[host]
        if "." not in host:
            break
        host = host.split(".", 1)[1]
    return "generic"
