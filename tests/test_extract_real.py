"""Pages nobody here wrote: the outlets' real pages in ``../shared/fixtures/real/``, and the
kinds of page that other extraction sets showed us losing text."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmirror.extract import ExtractError, Image, Page, extract
from newsmirror.extract.blocks import block_text
from newsmirror.extract.document import decode_html
from newsmirror.transform.footer import strip_footer
from newsmirror.transform.sanitize import sanitize

BBC = "https://www.bbc.com/zhongwen/articles/cwyv1yz8yrno/simp"
BBC_VIDEO = "https://www.bbc.com/zhongwen/articles/cx2pyye2l9jo/trad"
BBC_2012 = "https://www.bbc.co.uk/zhongwen/simp/chinese_news/2012/12/121210_hongkong_politics.shtml"
RFI = "https://www.rfi.fr/cn/中国/20251130-台湾增加400亿美元国防开支"
BBC_PICTURES = (
    "b8833320-cd4c-11f0",
    "a99c2090-cd4e-11f0",
    "ccbb05b0-cd4d-11f0",
    "724c46b0-cd4e-11f0",
    "22b5ac40-cd4e-11f0",
    "326cb1a0-cd4f-11f0",
    "56a379f0-cd4f-11f0",
)
VIDEO_STILL = "p0mkjzy7"


def _page(shared: Path, name: str, url: str, extractor: str) -> Page:
    return extract((shared / "fixtures" / "real" / name).read_bytes(), url, "", extractor)


def _iso(ms: int | None) -> str:
    assert ms is not None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _texts(page: Page) -> list[str]:
    return [block_text(b) for b in page.blocks if isinstance(b, str)]


def _pictures(page: Page, allowed: tuple[str, ...] = ()) -> list[Image]:
    return [i for i in page.images if not any(a in i.src for a in allowed)]


def _in_order(found: list[str], expected: list[str]) -> None:
    """Every expected paragraph appears in ``found``, in the same order."""
    at = 0
    for text in expected:
        assert text in found[at:], f"missing or out of order: {text[:40]}"
        at = found.index(text, at) + 1


@pytest.mark.parametrize("extractor", ["bbc", "generic"])
def test_bbc_article_today(shared: Path, extractor: str) -> None:
    page = _page(shared, "bbc-zhongwen-article-2025-11-30.html", BBC, extractor)
    adapter = _page(shared, "bbc-zhongwen-article-2025-11-30.html", BBC, "bbc")
    assert page.title == "香港大埔宏福苑大火幸存者：第一次觉得死亡和我有关"
    assert page.authors == ("李雨梦",)
    assert _iso(page.published_ms) == "2025-11-30T02:35:18+00:00"
    texts = _texts(page)
    paragraphs = [t for t in _texts(adapter) if not t.startswith("▶") and "instagram" not in t]
    assert len(paragraphs) >= 54
    _in_order(texts, paragraphs)
    # The article's seven pictures, in order, each with its caption; no related-story,
    # most-read or promo thumbnail (a video's still may stand for the video).
    pictures = _pictures(page, (VIDEO_STILL,))
    assert [next(p for p in BBC_PICTURES if p in i.src) for i in pictures] == list(BBC_PICTURES)
    assert all(i.caption for i in pictures)
    assert not any("Article Information" in t or t.startswith("Author,") for t in texts)


@pytest.mark.parametrize("extractor", ["bbc", "generic"])
def test_bbc_video_article(shared: Path, extractor: str) -> None:
    page = _page(shared, "bbc-zhongwen-video-2025-11-30.html", BBC_VIDEO, extractor)
    assert page.title.startswith("從軍隊窄門到首批女性裝甲兵")
    assert _iso(page.published_ms) == "2025-11-30T01:53:17+00:00"
    assert any(t.startswith("30歲的鄭宇君從軍八年") for t in _texts(page))
    assert not _pictures(page, (VIDEO_STILL,))


def test_bbc_old_layout_falls_back_to_the_generic_extractor(
    shared: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="newsmirror"):
        page = _page(shared, "bbc-zhongwen-2012-layout.html", BBC_2012, "bbc")
    assert "the bbc extractor found nothing" in caplog.text
    assert page.title == "港特首梁振英就住宅违建事件道歉"  # without " - BBC中文网 - 两岸三地"
    assert _iso(page.published_ms) == "2012-12-10T09:24:01+00:00"  # dcterms.created
    texts = _texts(page)
    assert texts[0].startswith("香港行政长官梁振英在各方压力下")
    assert "“郑重道歉”" in texts
    assert [(i.src.rsplit("/", 1)[1][:12], i.caption) for i in page.images] == [
        ("121206102108", "梁振英同时遭到泛民主派和亲北京阵营议员质问。"),
        ("121127090440", "梁振英的山顶大宅于6月份被揭发存有违章建筑。"),
    ]


@pytest.mark.parametrize("extractor", ["rfi", "generic"])
def test_rfi_article(shared: Path, extractor: str) -> None:
    page = _page(shared, "rfi-cn-article-2025-11-30.html", RFI, extractor)
    assert page.title == "台湾增加400亿美元国防开支 加速部署T-Dome防空系统"
    assert page.authors == ("左依",)
    assert _iso(page.published_ms) == "2025-11-30T09:13:47+00:00"
    heads = [b for b in page.blocks if isinstance(b, str) and b.startswith("<h")]
    assert heads == [
        "<h2><strong>“T-Dome”是什么？</strong></h2>",
        "<h2><strong>为何要建设“T-Dome”？</strong></h2>",
        "<h2><strong>何时完成部署？</strong></h2>",
    ]
    texts = _texts(page)
    assert texts[0].startswith("法新社消息称，台湾政府计划")
    assert len(texts) - len(heads) >= 13  # the lead and twelve paragraphs
    assert texts[-1].startswith("为了确保“T-Dome”系统的有效运作")  # no newsletter promo
    assert not any(t.startswith("发表时间") for t in texts)
    (picture,) = page.images
    assert "000-867R2EZ" in picture.src
    assert picture.caption.startswith("台湾总统赖清德承诺加速部署“T-Dome”")


def test_cdt_feed_footer_is_not_the_article(shared: Path) -> None:
    item = (shared / "fixtures" / "real" / "cdt-feed-item-2020.md").read_text()
    body = sanitize(item.split("\n\n", 1)[1].strip(), "https://chinadigitaltimes.net/chinese/")
    kept = strip_footer(body, "chinadigitaltimes.net")
    assert body.startswith(kept)  # the article's part is the original text
    assert kept.endswith("东方明珠的风采是否依然?</p>")
    for furniture in ("Permalink", "del.icio.us", "Post tags", "Better Feed", "<hr"):
        assert furniture not in kept
    assert "香港的终结" in kept


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        # The WordPress "appeared first on" line and a share line, after an <hr>.
        (
            "<p>正文。</p><hr><p>The post <a href='https://x.example/a'>A</a> appeared first on "
            "<a href='https://x.example'>X</a>.</p><p>Share this: Twitter</p>",
            "<p>正文。</p>",
        ),
        # Inside a wrapping <div>, the closing tag stays.
        ("<div><p>Text.</p><p>Continue reading →</p></div>", "<div><p>Text.</p></div>"),
        # A paragraph that mentions "read more" in the middle of the text is text.
        ("<p>Read more about it below.</p><p>Final words.</p>", None),
        # Nothing but a footer-like line: kept rather than an empty article.
        ("<p>Post tags: a, b</p>", None),
        # A footer line in the middle is not a footer.
        ("<p>A.</p><p>Tags: a</p><p>B is the article's end.</p>", None),
    ],
)
def test_footers_go_from_the_end_only(body: str, kept: str | None) -> None:
    assert strip_footer(body, "x.example") == (kept if kept is not None else body)


@pytest.mark.parametrize(
    ("line", "host"),
    [
        ("Feed enhanced by Better Feed", ""),
        ("Post tags: 香港, 新闻", ""),
        ("Filed under: World", ""),
        ("标签：香港", ""),
        ("The post A appeared first on X.", ""),
        ("Like this: Loading…", ""),
        ("分享到：微博", ""),
        ("Related posts: A, B", ""),
        ("相关文章", ""),
        ("Leave a comment", ""),
        ("Permalink | No comment", ""),
        ("Add to del.icio.us", ""),
        ("Read the full story", ""),
        ("阅读全文", ""),
        ("查看原文", ""),
        ("点击阅读", ""),
        ("© 2020 X for 中国数字时代", "chinadigitaltimes.net"),
        ("&copy; 2020 X for 中国数字时代", "chinadigitaltimes.net"),
        ("本文版权所有", "chinadigitaltimes.net"),
        ("&#26631;&#31614;：香港", ""),  # 标签 spelt as character references
    ],
)
def test_every_footer_form_is_found(line: str, host: str) -> None:
    """Each form the footer patterns know gets past the quick check for footer words."""
    assert strip_footer(f"<p>正文。</p><p>{line}</p>", host) == "<p>正文。</p>"


def test_a_teaser_keeps_its_continue_reading_line_for_the_page_fetcher() -> None:
    body = "<p>Short summary.</p><p>Continue reading</p>"
    assert strip_footer(body, more=False) == body


# ---- kinds of page an independent extraction set lost --------------------------------

LONG = "The committee met on Tuesday to discuss the budget for the coming year. " * 4


def test_a_page_starting_with_an_xml_declaration_is_read() -> None:
    raw = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html><html><head><title>T</title>'
        f"</head><body><article><p>{LONG}</p><p>{LONG}</p></article></body></html>"
    ).encode()
    page = extract(raw, "https://x.example/a")
    assert "committee met on Tuesday" in page.text()


def test_utf8_with_a_stray_byte_stays_utf8_in_any_language() -> None:
    text = "Das Maskottchen Mäscot grüßt die Gäste. " * 10
    raw = f"<html><meta charset='utf-8'><body><p>{text}</p>".encode() + b"<p>caf\xe9</p>"
    decoded = decode_html(raw)
    assert "Mäscot grüßt" in decoded
    assert "caf\ufffd" in decoded


def test_soft_hyphens_do_not_split_words() -> None:
    raw = f"<html><body><article><p>Im Mit&shy;tel\u00adal&#173;ter. {LONG}</p></article>"
    page = extract(raw.encode(), "https://x.example/a")
    assert "Im Mittelalter." in page.text()


def test_an_article_whose_paragraph_is_a_link_is_an_article() -> None:
    sentence = "Read how the city council voted to rebuild the old harbour bridge this spring"
    raw = f"<html><body><article><p><a href='/story'>{sentence}</a></p></article></body></html>"
    page = extract(raw.encode(), "https://x.example/a")
    assert sentence in page.text()
    with pytest.raises(ExtractError):  # a menu of short links is still no article
        extract(
            b"<html><body><nav><ul><li><a href='/a'>Home</a></li><li><a href='/b'>News</a>"
            b"</li></ul></nav></body></html>",
            "https://x.example/a",
        )


def test_title_and_caption_duplicates_judged_by_where_they_stand() -> None:
    title = "Bridge reopens after repairs"
    caption = "The bridge at dawn"
    raw = f"""<html><head><title>{title}</title></head><body><article>
      <h1>{title}</h1>
      <p>{title}</p>
      <figure><img src="https://img.example/bridge.jpg" width="800">
        <figcaption><button>Expand</button><span>{caption}</span>
        <small>Photo: A. Smith</small></figcaption></figure>
      <p>{LONG}</p>
      <p>{caption}</p>
      <p>{LONG}</p>
    </article></body></html>"""
    page = extract(raw.encode(), "https://x.example/a")
    texts = [block_text(b) for b in page.blocks if isinstance(b, str)]
    assert texts.count(title) == 1  # the <h1> goes, the paragraph that repeats it stays
    assert texts.count(caption) == 1  # the paragraph quoting the caption stays
    assert not any("Expand" in t for t in texts)  # the caption's own text is under the picture
    assert [i.src for i in page.images] == ["https://img.example/bridge.jpg"]
