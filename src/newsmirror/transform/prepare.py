"""The transforms every source shares, between parsing and rendering.

Images (proxy or copy), links (to mirrored copies) and script (Simplified/Traditional) are
applied to the article as its outlet gave it, which the catalog keeps, so the same function
serves a normal pass, the fix-up of articles whose links or images can now be resolved, and
``rewrite-images`` over the whole archive.  What the catalog answers (image copies, link
targets) comes in through :class:`Lookups`; the rest is pure.

Rendering needs the file's path (archive references are made relative to it) and, for
``script = "both"``, writes a second file beside the first with links between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ..config import Settings, SourceSettings
from ..model import ARCHIVE_REF, Article
from ..render.markdown import Away, render_article
from . import links, script
from .images import ImageRewriter, image_sources


class Lookups(Protocol):
    """What the transforms ask the catalog."""

    def asset_paths(self, urls: Sequence[str]) -> dict[str, str]: ...

    def link_targets(self, keys: Sequence[str], prefer: str) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class Prepared:
    """An article ready to render, with what its rendering depends on."""

    article: Article  # transformed
    given: Article  # as the outlet gave it: what the catalog keeps as the revision
    refs: frozenset[str]  # link keys and ``img:`` URLs (re-render when those change)
    variant: Article | None = None  # the second script, for script = "both"
    variant_script: script.Script | None = None
    away: Away | None = None  # links into other repositories (a rotated archive)

    def render(self, path: str) -> list[tuple[str, bytes]]:
        """The file(s) for this article at ``path``: the article, then its second script."""
        away = self.away
        if self.variant is None or self.variant_script is None:
            return [(path, render_article(self.article, path, away))]
        other = script.variant_path(path, self.variant_script)
        first: script.Script = "hans" if self.variant_script == "hant" else "hant"
        return [
            (
                path,
                render_article(_cross_linked(self.article, other, self.variant_script), path, away),
            ),
            (other, render_article(_cross_linked(self.variant, path, first), other, away)),
        ]

    def alt_path(self, path: str) -> str | None:
        """Where the second script goes, if there is one."""
        if self.variant_script is None:
            return None
        return script.variant_path(path, self.variant_script)


def _cross_linked(article: Article, to: str, label: script.Script) -> Article:
    link = f'<div><a href="{ARCHIVE_REF}{to}">{script.LABELS[label]}</a></div>'
    return replace(article, body=link + article.body)


def prepare(
    settings: Settings,
    source: SourceSettings,
    articles: Sequence[Article],
    lookups: Lookups,
    away: Away | None = None,
) -> list[Prepared]:
    """Apply the images, links and script settings of ``source`` to ``articles``;
    ``away`` places links to files of other repositories (see ``render.markdown``)."""
    templates = settings.image_proxies(source)
    copy = settings.image_mode(source) == "copy"
    images: dict[str, list[str]] = {}
    assets: dict[str, str] = {}
    if copy:
        images = {a.ident: image_sources(a.body, templates) for a in articles}
        assets = lookups.asset_paths(sorted({u for us in images.values() for u in us}))
    rewriter = ImageRewriter(templates, assets)
    keys: dict[str, set[str]] = {}
    targets: dict[str, str] = {}
    if settings.links == "archive":
        keys = {a.ident: links.keys_in(a.body) for a in articles}
        targets = lookups.link_targets(sorted({k for ks in keys.values() for k in ks}), source.id)
    keep_tracking = settings.keep_tracking(source)
    mode, traditional = settings.script_mode(source)
    out = []
    for a in articles:
        body = rewriter.body(a.body)
        if settings.links == "archive":
            own = frozenset((a.ident, f"url:{a.canonical}"))
            body = links.relink(body, targets, keep_tracking=keep_tracking, own=own)
        done = a if body == a.body else replace(a, body=body)
        variant = None
        other: script.Script | None = None
        if mode in ("hans", "hant"):
            done = script.convert_article(done, mode, traditional)
        elif mode == "both":
            other = "hant" if script.detect(a.title + a.body) == "hans" else "hans"
            variant = script.convert_article(done, other, traditional)
        refs = keys.get(a.ident, set()) | {f"img:{u}" for u in images.get(a.ident, ())}
        refs |= links.path_keys(a.body)
        out.append(Prepared(done, a, frozenset(refs), variant, other, away))
    return out
