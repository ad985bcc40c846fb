"""What a feed says reaches the archive: every format and text construct, held to feedparser.

Each class of document that once lost content silently has cases here; each case is read by
newsmirror and checked for its values, and (where feedparser reads it) compared with
feedparser's reading by :func:`tests.feedcorpus.compare_bytes`.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest

from newsmirror.errors import ParseError
from newsmirror.model import Article
from newsmirror.sources.feed import parse_and_deflate, parse_feed

from .feedcorpus import compare, compare_bytes, corpus

URL = "https://feeds.example.org/news/feed.xml"


def read(doc: str | bytes) -> tuple[list[Article], list[str]]:
    raw = doc.encode() if isinstance(doc, str) else doc
    articles, errors = parse_feed(raw, source="s", feed_url=URL, now_ms=0)
    return articles, [f"{e.where}: {e.reason}" for e in errors]


def agrees(doc: str) -> None:
    """feedparser reads the same links, titles and bodies (for entries that have a link)."""
    outcome = compare_bytes(doc.encode(), URL, "case")
    assert outcome.entries, "feedparser read no linked entry"
    assert not outcome.differences, outcome.differences


def rss(items: str, version: str = "2.0", extra_ns: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="{version}"{extra_ns}>'
        f"<channel><title>t</title><link>https://news.example.org/</link>{items}</channel></rss>"
    )


NS = (
    ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
)


# 1. RSS 0.90 ------------------------------------------------------------------------------


def test_rss_090_items_are_read() -> None:
    doc = (
        '<?xml version="1.0"?>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://my.netscape.com/rdf/simple/0.9/">'
        "<channel><title>News</title><link>https://news.example.org/</link>"
        "<description>d</description></channel>"
        + "".join(
            f"<item><title>Story {n}</title><link>https://news.example.org/{n}.html</link></item>"
            for n in range(1, 61)
        )
        + "</rdf:RDF>"
    )
    articles, errors = read(doc)
    assert len(articles) == 60 and not errors
    assert articles[0].url == "https://news.example.org/1.html"
    assert articles[59].title == "Story 60"
    agrees(doc)


# 2. JSON Feed with a wrongly typed field -------------------------------------------------


def json_item(n: int, **fields: object) -> dict[str, object]:
    return {
        "id": str(n),
        "url": f"https://news.example.org/{n}",
        "title": f"标题 {n}",
        "content_html": f"<p>正文 {n}</p>",
        **fields,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"authors": {"name": "甲"}},
        {"author": "甲"},
        {"authors": ["甲", {"name": "乙"}]},
        {"attachments": ["not an object"]},
        {"title": 12, "date_published": ["x"]},
        {"summary": {"text": "x"}},
    ],
    ids=["authors-object", "author-string", "author-not-object", "attachment", "types", "sum"],
)
def test_json_feed_bad_field_costs_nothing_else(fields: dict[str, object]) -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [json_item(1), json_item(2, **fields), json_item(3)],
    }
    articles, errors = read(json.dumps(doc))
    assert not errors
    assert [a.url for a in articles] == [f"https://news.example.org/{n}" for n in (1, 2, 3)]
    assert "<p>正文 2</p>" in articles[1].body


def test_json_feed_author_forms_are_read() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1",
        "items": [json_item(1, author={"name": "甲"}), json_item(2, authors=[{"name": "乙"}])],
    }
    articles, _ = read(json.dumps(doc))
    assert [a.authors for a in articles] == [("甲",), ("乙",)]


def test_json_feed_item_that_is_not_an_object_is_its_own_error() -> None:
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": [json_item(1), 7, "x"]}
    articles, errors = read(json.dumps(doc))
    assert len(articles) == 1
    assert errors == [
        "item #2: a JSON Feed item must be an object, not int",
        "item #3: a JSON Feed item must be an object, not str",
    ]


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ('{"version": "x", "items": {"a": 1}}', "'items' is a dict, not a list"),
        ('{"version": "x", "items": [}', "not a JSON Feed: Expecting value"),
        ("[1, 2]", "the document is a list, not an object"),
        ("[" * 100_000 + "]" * 100_000, "not a JSON Feed: maximum recursion depth"),
    ],
)
def test_json_document_errors_speak_json(doc: str, says: str) -> None:
    with pytest.raises(ParseError, match="JSON") as caught:
        read(doc)
    assert says in str(caught.value)
    assert "not well-formed" not in str(caught.value)


def test_json_feed_text_content_is_text() -> None:
    doc = {"items": [{"id": "1", "url": "https://x.example/1", "content_text": "AT&T <S>"}]}
    (a,), _ = read(json.dumps(doc))
    assert a.body == "<p>AT&amp;T &lt;S&gt;</p>"


# 3. RSS 1.0 bodies -------------------------------------------------------------------------


RDF_HEAD = (
    '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
    ' xmlns="http://purl.org/rss/1.0/"' + NS + ">"
    '<channel rdf:about="https://news.example.org/"><title>t</title>'
    "<link>https://news.example.org/</link></channel>"
)


@pytest.mark.parametrize(
    "body",
    [
        "<content:encoded><![CDATA[<p>全文 <b>重要</b></p>]]></content:encoded>",
        "<dc:description>&lt;p&gt;全文 &lt;b&gt;重要&lt;/b&gt;&lt;/p&gt;</dc:description>",
        "<description>摘要</description><content:encoded>&lt;p&gt;全文 &lt;b&gt;重要"
        "&lt;/b&gt;&lt;/p&gt;</content:encoded>",
    ],
    ids=["content-encoded", "dc-description", "both"],
)
def test_rdf_bodies(body: str) -> None:
    doc = (
        RDF_HEAD
        + '<item rdf:about="https://news.example.org/1"><title>标题</title>'
        + f"<link>https://news.example.org/1</link>{body}</item></rdf:RDF>"
    )
    (a,), _ = read(doc)
    assert "全文 <b>重要</b>" in a.body
    agrees(doc)


# 4. xml:base -------------------------------------------------------------------------------


def test_xml_base_on_an_rss_item() -> None:
    doc = rss(
        '<item xml:base="https://other.example.net/dir/"><title>t</title><link>story.html</link>'
        '<description>&lt;a href="rel/x"&gt;x&lt;/a&gt;&lt;img src="../p.jpg"&gt;</description>'
        "</item>"
    )
    (a,), _ = read(doc)
    assert a.url == "https://other.example.net/dir/story.html"
    assert 'href="https://other.example.net/dir/rel/x"' in a.body
    assert "other.example.net%2Fp.jpg" in a.body or "other.example.net/p.jpg" in a.body
    agrees(doc)


@pytest.mark.parametrize(
    ("feed_base", "entry_base", "link", "expected", "body_base"),
    [
        ("https://a.example/x/", "", "e/1", "https://a.example/x/e/1", "https://a.example/x/"),
        (
            "https://a.example/x/",
            "y/",
            "e/1",
            "https://a.example/x/y/e/1",
            "https://a.example/x/y/",
        ),
        ("", "https://b.example/z/", "e/1", "https://b.example/z/e/1", "https://b.example/z/"),
        (
            "https://a.example/x/",
            "https://b.example/",
            "/abs",
            "https://b.example/abs",
            "https://b.example/",
        ),
    ],
)
def test_xml_base_on_atom_feed_and_entry(
    feed_base: str, entry_base: str, link: str, expected: str, body_base: str
) -> None:
    fb = f' xml:base="{feed_base}"' if feed_base else ""
    eb = f' xml:base="{entry_base}"' if entry_base else ""
    doc = (
        f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"{fb}><title>t</title>'
        f'<entry{eb}><id>urn:x:1</id><title>t</title><link href="{link}"/>'
        '<updated>2026-01-01T00:00:00Z</updated><content type="html">'
        "&lt;a href=&quot;more&quot;&gt;more&lt;/a&gt;</content></entry></feed>"
    )
    (a,), _ = read(doc)
    assert a.url == expected
    assert f'href="{body_base}more"' in a.body
    agrees(doc)


# 5. Markup written unescaped ---------------------------------------------------------------


def test_unescaped_markup_in_description() -> None:
    doc = rss(
        "<item><title>t</title><link>https://x.example/1</link>"
        "<description><p>第一段 <a href='https://x.example/a'>链接</a></p><p>第二段</p>"
        "</description></item>"
    )
    (a,), _ = read(doc)
    assert "<p>第一段 <a" in a.body and "<p>第二段</p>" in a.body
    agrees(doc)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Test: <b>bold</b>", "Test: bold"),
        ("<b>只有标记</b>", "只有标记"),
        ("<span><i>x</i> y</span>", "x y"),
        ("<div>TypePad</div>", "TypePad"),
    ],
)
def test_markup_in_titles_keeps_the_text(title: str, expected: str) -> None:
    doc = rss(f"<item><title>{title}</title><link>https://x.example/1</link></item>")
    (a,), _ = read(doc)
    assert a.title == expected
    agrees(doc)


# 6. Atom text constructs -------------------------------------------------------------------


def atom(entry: str, ns: str = "http://www.w3.org/2005/Atom", version: str = "") -> str:
    return (
        f'<?xml version="1.0"?><feed xmlns="{ns}"{version}><title>t</title><entry>'
        f'<id>urn:x:1</id><link rel="alternate" type="text/html" href="https://x.example/1"/>'
        f"{entry}</entry></feed>"
    )


XHTML = 'xmlns:x="http://www.w3.org/1999/xhtml"'


@pytest.mark.parametrize(
    ("entry", "title", "body"),
    [
        (
            f'<title type="xhtml"><x:div {XHTML}>标题 <x:b>粗</x:b></x:div></title>'
            f'<summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>摘要 '
            "<em>强调</em></p></div></summary>",
            "标题 粗",
            "<p>摘要 <em>强调</em></p>",
        ),
        (
            '<title>t</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            "<p>一</p><p>二</p></div></content>",
            "t",
            "<p>一</p><p>二</p>",
        ),
    ],
    ids=["xhtml-title-summary", "xhtml-content"],
)
def test_atom_xhtml(entry: str, title: str, body: str) -> None:
    doc = atom(entry)
    (a,), _ = read(doc)
    assert a.title == title
    assert a.body == body
    agrees(doc)


def test_atom03_modes() -> None:
    encoded = base64.b64encode("<p>编码 <b>正文</b></p>".encode()).decode()
    for content, expected in [
        (
            '<content type="application/xhtml+xml" mode="xml"><div '
            'xmlns="http://www.w3.org/1999/xhtml"><p>XML <b>正文</b></p></div></content>',
            "<b>正文</b>",
        ),
        (f'<content type="text/html" mode="base64">{encoded}</content>', "<p>编码 <b>正文</b></p>"),
        (
            '<content type="text/html" mode="escaped">&lt;p&gt;转义&lt;/p&gt;</content>',
            "<p>转义</p>",
        ),
    ]:
        doc = atom(
            f"<title>t</title><modified>2026-01-01T00:00:00Z</modified>{content}",
            ns="http://purl.org/atom/ns#",
            version=' version="0.3"',
        )
        (a,), _ = read(doc)
        assert expected in a.body, (content, a.body)
        assert encoded not in a.body
        agrees(doc)


# 7. Text is text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "field", "expected"),
    [
        (
            atom('<title>t</title><summary type="text">AT&amp;T &lt;S&gt;</summary>'),
            "body",
            "<p>AT&amp;T &lt;S&gt;</p>",
        ),
        (
            atom("<title>t</title><content>&lt;b&gt;not bold&lt;/b&gt;</content>"),
            "body",
            "<p>&lt;b&gt;not bold&lt;/b&gt;</p>",
        ),
        (
            atom('<title type="html">&amp;#8220;引号&amp;#8221; &amp;amp; 与</title>'),
            "title",
            "“引号” & 与",
        ),
        (
            rss(
                "<item><title>1 &lt; 2 and AT&amp;T</title><link>https://x.example/1</link></item>"
            ),
            "title",
            "1 < 2 and AT&T",
        ),
    ],
    ids=["atom-text-summary", "atom-content-without-type", "html-title-entities", "rss-lone-lt"],
)
def test_text_is_text_and_html_is_html(doc: str, field: str, expected: str) -> None:
    (a,), _ = read(doc)
    assert getattr(a, field) == expected
    agrees(doc)


# 8. Guids shared by different links --------------------------------------------------------


def test_items_sharing_a_guid_with_different_links_are_all_kept() -> None:
    doc = rss(
        "".join(
            f"<item><title>t{n}</title><link>https://x.example/{n}</link>"
            "<guid isPermaLink='false'>same</guid></item>"
            for n in (1, 2, 3)
        )
        + "<item><title>t9</title><link>https://x.example/9</link><guid>g9</guid></item>"
        + "<item><title>again</title><link>https://x.example/9</link><guid>g9</guid></item>"
    )
    articles, errors = read(doc)
    assert not errors
    assert [a.url for a in articles] == [f"https://x.example/{n}" for n in (1, 2, 3, 9)]
    assert len({a.ident for a in articles}) == 4


# The corpus --------------------------------------------------------------------------------

# Where feedparser is the one that is wrong, and we knowingly differ.
FEEDPARSER_WRONG = {
    # An <image><id> nested in the entry, before the entry's own <id>, becomes feedparser's
    # link; the entry's own id is the link.
    "atom10_id.xml": "link",
    # An <image> inside a <category> gives feedparser the entry title; the item has none.
    "item_category_image.xml": "title",
    # Undeclared GB2312: feedparser decodes it as Latin-1; we read the Chinese.
    "gb2312.xml": "title",
}
# Documents neither of us can read right: no charset anywhere (feedparser needs chardet,
# which it does not install; our detection chooses among Chinese charsets), or line noise.
NEITHER = {"chardet", "bozo_linenoise.xml"}


@pytest.fixture(scope="module")
def corpus_files() -> list[Path]:
    return corpus()


def test_every_entry_of_feedparsers_corpus_reads_the_same(corpus_files: list[Path]) -> None:
    assert len(corpus_files) > 2000
    linked = same = 0
    unexpected: list[str] = []
    for path in corpus_files:
        outcome = compare(path)
        linked += outcome.entries
        same += min(outcome.same_link, outcome.same_title, outcome.same_body)
        for line in outcome.differences:
            if path.name in FEEDPARSER_WRONG and f": {FEEDPARSER_WRONG[path.name]}: " in line:
                continue
            if path.name in NEITHER or NEITHER & set(path.parts):
                continue
            unexpected.append(line)
    assert not unexpected, "\n".join(unexpected)
    assert linked >= 90 and same >= linked - 1


def test_hostile_corpus_bodies_stay_inert(corpus_files: list[Path]) -> None:
    sanitize_files = [p for p in corpus_files if "sanitize" in p.parts]
    assert sanitize_files
    for path in sanitize_files:
        try:
            articles, _ = parse_feed(path.read_bytes(), source="c", feed_url=URL, now_ms=0)
        except ParseError:
            continue
        for a in articles:
            assert "<script" not in a.body.lower() and "javascript:" not in a.body.lower()


def _two_articles(raw: bytes, **_: object) -> tuple[list[Article], list[object]]:
    body = "<p>正文，很长的一段。</p>" * 30
    fine = Article("s", "id:1", "k1", "https://x.example/1", "一", 0, body)
    odd = Article("s", "id:2", "k2", "https://x.example/2", "二", 0, "\ud800" + body)
    return [fine, odd], []


def test_a_body_deflating_refuses_is_left_to_the_store() -> None:
    # Deflating beside the parsing is an aid: a body it cannot take (here text UTF-8
    # cannot write, which sanitizing never lets through) costs neither its feed nor its
    # neighbours; the store deflates it, or names the item that failed.
    articles, _errors, packed = parse_and_deflate(_two_articles, b"", True)
    assert [a.ident for a in articles] == ["id:1", "id:2"]
    assert zlib.decompress(packed["id:1"]).decode() == articles[0].body
    assert "id:2" not in packed
    assert parse_and_deflate(_two_articles, b"", False)[2] == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\x93quoted\x94 \x85 end", "\u201cquoted\u201d \u2026 end"),  # Latin-1 only
        ("中文\x93引号\x94", "中文\u201c引号\u201d"),  # among wider characters
        ("中文©，无控制符", "中文©，无控制符"),  # C2 bytes in UTF-8, but no C1 control
    ],
)
def test_c1_controls_stand_for_cp1252_punctuation(text: str, expected: str) -> None:
    # feedparser's repair: a C1 control in a title or body is the cp1252 character that
    # a producer meant.
    doc = rss(f"<item><title>{text}</title><link>https://news.example.org/1</link>"
              f"<description>&lt;p&gt;{text}&lt;/p&gt;</description></item>")  # fmt: skip
    (a,), errors = read(doc)
    assert not errors
    assert a.title == expected and a.body == f"<p>{expected}</p>"
    agrees(doc)
