"""The pure core of an update: which articles are new, changed or unchanged, and where
new ones go.  Takes data, returns data; no clock, network or database in here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .config import Layout
from .model import Article, clamp_ms
from .render.markdown import file_hash, render_article
from .store.rows import Known


@dataclass(frozen=True, slots=True)
class NewFile:
    """A new article and the file it gets."""

    article: Article
    path: str
    number: int | None
    data: bytes
    hash: str
    extra: tuple[tuple[str, bytes], ...] = ()  # files that go with it (its second script)


@dataclass(frozen=True, slots=True)
class Changed:
    """A known article whose title, link or body changed: rewrite its file in place."""

    article: Article
    known: Known
    data: bytes
    hash: str
    extra: tuple[tuple[str, bytes], ...] = ()


@dataclass(slots=True)
class Plan:
    """What one source's pass will do."""

    new: list[NewFile] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)
    unchanged: int = 0
    next_number: int = 0
    # Unchanged articles found by their link under another ident: the catalog learns the
    # new ident so the next pass finds them directly.
    retagged: list[tuple[Known, Article]] = field(default_factory=list)


def dated_path(source: str, article: Article) -> str:
    """``articles/{source}/{YYYY-MM-DD}/{key}.md``, the date in UTC."""
    day = datetime.fromtimestamp(clamp_ms(article.date_ms) / 1000, UTC).strftime("%Y-%m-%d")
    return f"articles/{source}/{day}/{article.key}.md"


def numbered_path(source: str, number: int) -> str:
    """``articles/{source}/{n}.md`` of the duty-machine layout."""
    return f"articles/{source}/{number}.md"


# Renders an article at an archive path: its file first, then any files that go with it.
Render = Callable[[Article, str], Sequence[tuple[str, bytes]]]


def render_one(article: Article, path: str) -> Sequence[tuple[str, bytes]]:
    """The article's file alone."""
    return [(path, render_article(article, path))]


def plan(
    articles: list[Article],
    known: dict[str, Known],
    *,
    layout: Layout,
    next_number: int,
    render: Render = render_one,
) -> Plan:
    """Sort a source's articles into new, changed and unchanged.

    New articles of the duty-machine layout are numbered counting down from ``next_number``
    in ascending date order, so the newest file of the run gets the lowest number and sorts
    first.  A changed article keeps its file (and number).  What "changed" means is decided
    on the bytes of the article's file, rendered at its path.
    """
    result = Plan(next_number=next_number)
    fresh: list[Article] = []
    for a in articles:
        k = known.get(a.ident)
        if k is None:
            fresh.append(a)
            continue
        (_, data), *extra = render(a, k.path)
        h = file_hash(data)
        if k.content_hash != h:
            result.changed.append(Changed(a, k, data, h, tuple(extra)))
        else:
            result.unchanged += 1
            if k.ident != a.ident:
                result.retagged.append((k, a))
    fresh.sort(key=lambda f: (f.date_ms, f.ident))
    for a in fresh:
        n: int | None = None
        if layout == "duty-machine":
            n = result.next_number
            result.next_number -= 1
            path = numbered_path(a.source, n)
        else:
            path = dated_path(a.source, a)
        (_, data), *extra = render(a, path)
        result.new.append(NewFile(a, path, n, data, file_hash(data), tuple(extra)))
    return result


RETRY_AFTER_CAP_S = 6 * 3600.0
MAX_AGE_CAP_S = 6 * 3600.0
BACKOFF_CAP_S = 24 * 3600.0


def next_due(
    now_ms: int,
    *,
    failures: int,
    interval_s: float,
    retry_after_s: float | None = None,
    max_age_s: float | None = None,
    jitter: float = 1.0,
) -> int | None:
    """When a source may be fetched again, or None for "on the next pass".

    ``failures`` is the streak including this pass (0 after a success).  A first failure is
    retried on the next pass; then the wait doubles from one interval up to a day, scaled
    by ``jitter`` (the caller draws it near 1) so failing sources do not retry in lockstep.
    A server's Retry-After and a listing's Cache-Control max-age are honoured up to six
    hours.  Nothing is ever disabled for good.
    """
    wait = 0.0
    if failures >= 2:
        wait = min(interval_s * 2 ** (failures - 2), BACKOFF_CAP_S) * jitter
    if retry_after_s:
        wait = max(wait, min(retry_after_s, RETRY_AFTER_CAP_S))
    if max_age_s and failures == 0:
        wait = max(wait, min(max_age_s, MAX_AGE_CAP_S))
    return now_ms + int(wait * 1000) if wait > 0 else None
