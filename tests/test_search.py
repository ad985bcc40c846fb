"""Search over the catalog: Chinese words of one and two characters, both scripts, ranking,
snippets, clear errors, and an index that follows edits."""

from __future__ import annotations

import random
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsmirror.config import load
from newsmirror.model import Article
from newsmirror.report import UpdateReport
from newsmirror.store.catalog import Catalog
from newsmirror.store.db import unpack
from newsmirror.store.search import (
    QueryError,
    SearchIndex,
    normalize,
    parse_query,
    snippet,
    tokens,
)

from . import feeds
from .conftest import write_config
from .fakeserver import FakeServer
from .test_cli import nm

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")

ARTICLES = [
    (
        "美中重啟氣候對話",
        "<p>美國氣候特使克里表示，願與中國重啟對話。</p><p>談判將在埃及舉行。</p>",
    ),
    ("气候大会即将召开", "<p>联合国气候大会下周开幕，各国代表抵达埃及。</p>"),
    ("香港新闻自由", "<p>记者协会发表报告，指新闻自由持续收窄。</p><p>对话的空间很小。</p>"),
    ("Trump and trade", "<p>Tariffs on steel: a 会 of ministers met in Geneva.</p>"),
    ("一字标题：会", "<p>正文没有那个字。</p>"),
]


@pytest.fixture
def archive(tmp_path: Path, server: FakeServer, run_update: Callable[[Path], UpdateReport]) -> Path:
    items = feeds.items(len(ARTICLES))
    for it, (title, body) in zip(reversed(items), ARTICLES, strict=True):
        it.title, it.body = title, body
    server.routes["/f.xml"] = feeds.rss(items)
    cfg = write_config(tmp_path / "nm.toml", [{"id": "news", "url": server.url("/f.xml")}])
    report = run_update(cfg)
    assert report.new == len(ARTICLES)
    catalog = Catalog(load(cfg).catalog, create=False)
    try:
        assert SearchIndex(catalog).sync() == len(ARTICLES)  # what search, serve, build do
    finally:
        catalog.close()
    return cfg


def _titles(cfg: Path, query: str) -> list[str]:
    catalog = Catalog(load(cfg).catalog, create=False)
    try:
        index = SearchIndex(catalog)
        index.sync()  # as every reader of the index does first
        hits, total = index.search(query)
    finally:
        catalog.close()
    assert total == len(hits)
    return [h.title for h in hits]


def test_two_character_words_in_both_scripts(archive: Path) -> None:
    # 对话 (Simplified) finds the Traditional 對話 article and the Simplified one.
    assert set(_titles(archive, "对话")) == {"美中重啟氣候對話", "香港新闻自由"}
    assert set(_titles(archive, "對話")) == {"美中重啟氣候對話", "香港新闻自由"}
    # the title match ranks first
    assert _titles(archive, "对话")[0] == "美中重啟氣候對話"
    assert set(_titles(archive, "气候")) == {"美中重啟氣候對話", "气候大会即将召开"}
    assert _titles(archive, "埃及 召开") == ["气候大会即将召开"]


def test_one_character_and_longer_words(archive: Path) -> None:
    # 会 ends a title in one article and sits inside words in others
    assert set(_titles(archive, "会")) == {
        "气候大会即将召开",
        "香港新闻自由",
        "Trump and trade",
        "一字标题：会",
    }
    assert _titles(archive, "即将召开") == ["气候大会即将召开"]
    assert _titles(archive, "新闻自由持续") == ["香港新闻自由"]
    assert _titles(archive, "自由收窄") == []  # not adjacent in the text


def test_titles_first_then_newest(archive: Path) -> None:
    """Articles with the words in their title come first, then the others; newest first."""
    catalog = Catalog(load(archive).catalog, create=False)
    try:
        index = SearchIndex(catalog)
        for query, word in (("对话", "对话"), ("埃及", "埃及"), ("气候 OR 新闻", None)):
            hits, _ = index.search(query)
            ids = [h.article_id for h in hits]
            titled = [h.article_id for h in hits if word and word in normalize(h.title)]
            if query.startswith("气候"):
                titled = [
                    h.article_id for h in hits if {"气候", "新闻"} & set(tokens(normalize(h.title)))
                ]
            expected = sorted(ids, key=lambda i: (i not in titled, -i))
            assert ids == expected, query
            assert len(ids) >= 2
    finally:
        catalog.close()


def test_latin_words_phrases_or_not_prefix(archive: Path) -> None:
    assert _titles(archive, "TRUMP") == ["Trump and trade"]
    assert _titles(archive, "tarif*") == ["Trump and trade"]
    assert _titles(archive, '"steel a"') == ["Trump and trade"]
    assert set(_titles(archive, "geneva OR 埃及")) == {
        "Trump and trade",
        "美中重啟氣候對話",
        "气候大会即将召开",
    }
    assert _titles(archive, "对话 -香港") == ["美中重啟氣候對話"]
    assert _titles(archive, "ＴＲＵＭＰ") == ["Trump and trade"]  # full-width letters


def test_snippets_show_the_original_text(archive: Path) -> None:
    catalog = Catalog(load(archive).catalog, create=False)
    try:
        hits, _ = SearchIndex(catalog).search("对话")
    finally:
        catalog.close()
    top = hits[0]
    assert top.snippet[1] == "對話"  # the Traditional original, found by a Simplified query
    assert "重啟" in top.snippet[0]
    assert snippet("abc", ["zz"]) == ("abc",)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"气候', "unbalanced quote at character 1"),
        ("OR 气候", "'OR' at character 1"),
        ("气候 OR", "'OR' at the end"),
        ("-气候", "at least one word that is not excluded"),
        ("。！", "only punctuation"),
        ("   ", "empty query"),
    ],
)
def test_bad_queries_are_explained(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(query)


_EMPTY: list[SearchIndex] = []


@given(st.text(max_size=30))
def test_any_query_is_either_explained_or_valid_fts5(query: str) -> None:
    if not _EMPTY:  # one empty catalog for every example
        _EMPTY.append(SearchIndex(Catalog(Path(tempfile.mkdtemp()) / "c.sqlite")))
    try:
        parse_query(query)
    except QueryError:
        return
    _EMPTY[0].search(query)  # never a syntax error (that would be a QueryError here)


_EMPTY_PG: list[SearchIndex] = []


@settings(deadline=None)  # the first example makes the database
@given(query=st.text(max_size=30))
def test_any_query_is_either_explained_or_valid_on_postgresql(pg_cluster: Any, query: str) -> None:
    if not _EMPTY_PG:
        _EMPTY_PG.append(SearchIndex(Catalog(pg_cluster.database())))
    try:
        parse_query(query)
    except QueryError:
        return
    _EMPTY_PG[0].search(query)  # never a tsquery syntax error


@given(st.text(max_size=40))
def test_normalize_keeps_length(text: str) -> None:
    assert len(normalize(text)) == len(text)


def test_edited_article_is_reindexed(
    archive: Path, server: FakeServer, run_update: Callable[[Path], UpdateReport], clock: object
) -> None:
    items = feeds.items(len(ARTICLES))
    for it, (title, body) in zip(reversed(items), ARTICLES, strict=True):
        it.title, it.body = title, body
    items[-1].body = "<p>美國氣候特使表示，願與中國恢復磋商。</p>"  # 對話 edited away
    server.routes["/f.xml"] = feeds.rss(items)
    report = run_update(archive)
    assert report.updated == 1
    assert _titles(archive, "对话") == ["美中重啟氣候對話", "香港新闻自由"]  # title still has it
    assert _titles(archive, "磋商") == ["美中重啟氣候對話"]
    assert _titles(archive, "重启对话") == []  # the old text is gone from the index


def test_search_command(archive: Path) -> None:
    out = nm(archive.parent, "-c", str(archive), "search", "對話")
    assert out.returncode == 0, out.stderr
    assert "2 articles match" in out.stdout
    assert "【對話】" in out.stdout and "美中重啟氣候對話" in out.stdout
    bad = nm(archive.parent, "-c", str(archive), "search", '"对话')
    assert bad.returncode == 1 and "unbalanced quote" in bad.stderr
    none = nm(archive.parent, "-c", str(archive), "search", "火星")
    assert none.returncode == 0 and "no articles match" in none.stdout


def test_common_words_are_counted_to_a_cap_and_ranked_among_the_newest(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsmirror.store import search

    monkeypatch.setattr(search, "MAX_COUNT", 3)
    monkeypatch.setattr(search, "RANK_WINDOW", 2)
    catalog = Catalog(load(archive).catalog, create=False)
    try:
        hits, total = SearchIndex(catalog).search("会")  # 4 articles have it
        having = {"气候大会即将召开", "香港新闻自由", "Trump and trade", "一字标题：会"}
        ids = sorted(
            r[0] for r in catalog.db.execute("SELECT id, title FROM articles") if r[1] in having
        )
    finally:
        catalog.close()
    assert total == 4  # MAX_COUNT + 1: "more than 3"
    assert {h.article_id for h in hits} == set(ids[-2:])  # ranked among the 2 newest


def test_an_index_made_with_other_tokens_is_rebuilt(archive: Path) -> None:
    """The index keeps no text: it can only remove what it is told the tokens were, so an
    index made by another tokenizer version is rebuilt rather than patched."""
    from newsmirror.store.search import TOKENS_KEY

    before = _titles(archive, "对话")
    catalog = Catalog(load(archive).catalog)
    try:
        index = SearchIndex(catalog)
        index.sync()
        with catalog.transaction():
            catalog.set_site_state(TOKENS_KEY, "0")
        assert index.sync() == index.count() == len(ARTICLES)
        assert index.sync() == 0
    finally:
        catalog.close()
    assert _titles(archive, "对话") == before


# -- the index against the text: what a query should find, computed from the text alone ----

_ALPHABET = "对對话話会會议气候谈判a1b"  # both scripts, Latin letters and a digit
_LATIN_WORD = r"[^\W_\u3400-\u9fff]"  # a character of a Latin word (what tokens() splits on)


def _random_text(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        r = rng.random()
        out.append("，" if r < 0.12 else " " if r < 0.2 else rng.choice(_ALPHABET))
    return "".join(out)


def _is_cjk(part: str) -> bool:
    return "\u3400" <= part[0] <= "\u9fff"


def _pattern(term: str, prefix: bool) -> re.Pattern[str]:
    """What a word or phrase of a query means, as a pattern over the normalized text: its
    parts in order with only separators between them; a Latin word whole (but for a prefix
    star on the last); a Chinese run anywhere inside the text's run, except that a part
    next to another part must reach that side of the text's run."""
    parts = re.findall(rf"[\u3400-\u9fff]+|{_LATIN_WORD}+", normalize(term))
    out = []
    for i, part in enumerate(parts):
        if i > 0:  # two runs of one kind are two only with something between them
            same = _is_cjk(part) == _is_cjk(parts[i - 1])
            out.append(r"[\W_]+" if same else r"[\W_]*")
        if not _is_cjk(part) and (i == 0 or _is_cjk(parts[i - 1])):
            out.append(rf"(?<!{_LATIN_WORD})")
        out.append(re.escape(part))
        if not _is_cjk(part) and i == len(parts) - 1 and not prefix:
            out.append(rf"(?!{_LATIN_WORD})")
    return re.compile("".join(out))


@pytest.mark.parametrize(
    ("engine", "way"),
    [("sqlite", ""), ("postgresql", "walk"), ("postgresql", "bitmap"), ("postgresql", "ranges")],
)
def test_every_query_finds_exactly_what_the_text_says(
    tmp_path: Path, engine: str, way: str, request: pytest.FixtureRequest, monkeypatch: Any
) -> None:
    """Words of one, two and more characters, both scripts, Latin words joined to Chinese
    ("A股"), phrases, OR, exclusions: the index finds exactly the articles whose text
    matches, across hundreds of generated queries (no prefix query, no false match).
    PostgreSQL finds them either way it can: walking the rows newest first, or reading
    candidates from the GIN indexes (in one range of ids or many) and checking those that
    need it."""
    from newsmirror.render.markdown import file_hash, render_article
    from newsmirror.store import search_pg
    from newsmirror.store.search import plain_text

    if way == "walk":  # a bitmap read made to look dear, and the other way round
        monkeypatch.setattr(search_pg, "BITMAP_ROW_US", 1e9)
    else:
        monkeypatch.setattr(search_pg, "BITMAP_ROW_US", 0.0)
    if way == "ranges":  # candidates read in ranges of 1, 2, 4… groups of ids from the newest
        monkeypatch.setattr(search_pg, "_first_span", lambda limit, share: 3)
    chosen: list[bool] = []
    ranges: list[str] = []
    real_candidates = search_pg.candidates
    monkeypatch.setattr(
        search_pg,
        "candidates",
        lambda g, within="": ranges.append(within) or real_candidates(g, within),
    )
    real_walk = search_pg._walk
    monkeypatch.setattr(search_pg, "_walk", lambda *a: chosen.append(True) or real_walk(*a))

    rng = random.Random(5)
    where = tmp_path / "c.sqlite" if engine == "sqlite" else request.getfixturevalue("pg_url")
    catalog = Catalog(where)
    texts: dict[int, tuple[str, str]] = {}
    try:
        with catalog.transaction():
            catalog.ensure_source("s", "S", "https://example.org/f.xml")
            for i in range(80):
                if way == "ranges":  # two articles to a group of ids, as in a big catalog
                    catalog.db.execute(
                        "SELECT setval(pg_get_serial_sequence('articles', 'id'), ?)",
                        (i * search_pg.BLOCK // 2 + 1,),
                    )
                title = _random_text(rng, 8)
                body = "".join(f"<p>{_random_text(rng, 30)}</p>" for _ in range(2))
                a = Article("s", f"id:{i}", f"k{i}", f"https://e.org/{i}", title or "t", i, body)
                path = f"articles/s/{i}.md"
                catalog.add_article(a, path, None, file_hash(render_article(a, path)), i)
        for aid, title, body in catalog.db.execute(
            "SELECT a.id, r.title, r.body FROM articles a JOIN revisions r ON r.article_id = a.id"
        ):
            texts[aid] = (normalize(title), normalize(plain_text(unpack(body))))
        index = SearchIndex(catalog)
        index.sync()
        checked = 0
        for _ in range(400):
            groups = []
            for _g in range(rng.choice((1, 1, 1, 2))):
                terms = []
                for t in range(rng.choice((1, 1, 2))):
                    word = "".join(
                        rng.choice(_ALPHABET) for _ in range(rng.choice((1, 1, 2, 3, 4)))
                    )
                    if rng.random() < 0.2:
                        word += " " + rng.choice(_ALPHABET)
                        word = f'"{word}"'
                    prefix = not word.startswith('"') and rng.random() < 0.1
                    terms.append((word, prefix, t > 0 and rng.random() < 0.3))
                groups.append(terms)
            query = " OR ".join(
                " ".join(("-" if neg else "") + w + ("*" if p else "") for w, p, neg in g)
                for g in groups
            )

            def matches(aid: int, g: list[tuple[str, bool, bool]]) -> bool:
                def has(w: str, p: bool) -> bool:
                    pattern = _pattern(w.strip('"'), p)
                    return any(pattern.search(text) for text in texts[aid])

                return all(has(w, p) != neg for w, p, neg in g)

            expected = {aid for aid in texts if any(matches(aid, g) for g in groups)}
            hits, total = index.search(query, limit=100)
            assert {h.article_id for h in hits} == expected, query
            assert total == len(expected), query
            checked += bool(expected)
        assert checked > 150  # most queries find something: the comparison is not vacuous
        assert len(chosen) == (400 if way == "walk" else 0)
        if way == "ranges":  # most queries read the newest groups first, then older ones
            assert sum(r.count("|") == 0 and r != "" for r in ranges) > 150
            assert any(r.count("|") > 2 for r in ranges)
    finally:
        catalog.close()
