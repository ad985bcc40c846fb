"""Fake outlets whose feeds carry teasers: feeds and article pages in the shapes of
SOURCES.md (BBC's ``__NEXT_DATA__``, VOA's ``#article-content``, RFI's ``t-content`` and
``ld+json``, NYT's ``article-paragraph``, RFA's ``#storytext``, CDT's WordPress), each
with the furniture a real page has around the article.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from .fakeserver import Answer, FakeServer
from .feeds import Item, rss

NAV = '<nav><a href="/">首页</a><a href="/china">中国</a><a href="/world">国际</a></nav>'
RELATED = (
    '<aside class="related"><h3>相关新闻</h3><ul><li><a href="/r1">'
    '<img src="/thumbs/r1.jpg" width="120" height="80">另一篇报道的标题</a></li></ul></aside>'
)
FOOTER = "<footer><p>版权所有，未经许可不得转载。</p></footer>"
P1 = "香港高等法院本周开审一宗涉及多名前立法会议员的案件，旁听席一早便座无虚席。"
P2 = "辩方律师在开庭陈词中指出，检方提交的证据大多来自社交媒体上的公开帖文。"
P3 = "法官表示，审讯预计将持续至少九十天，期间可能传召超过五十名证人。"
SUB = "各方反应"
CAP1 = "香港高等法院外，市民排队等候旁听"
CAP2 = "图为法院大楼（资料照片）"
FURNITURE = ("相关新闻", "另一篇报道的标题", "版权所有", "首页")


@dataclass
class Outlet:
    """One fake outlet on a fake server: its feed and its pages."""

    server: FakeServer
    name: str
    feed_path: str
    pages: dict[str, bytes] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"

    def page_url(self, path: str) -> str:
        return self.server.url(path)

    def serve(self, items: list[Item]) -> None:
        self.server.routes[self.feed_path] = rss(items)
        for path, raw in self.pages.items():
            self.server.routes[quote(path, safe="/?=&")] = _html(raw, self.content_type)

    def config(self, **extra: object) -> dict[str, object]:
        cfg: dict[str, object] = {
            "id": self.name,
            "url": self.server.url(self.feed_path),
            "fulltext": "page",
            "extractor": self.name,
            "images": "original",
        }
        cfg.update(extra)
        return cfg


def _html(raw: bytes, ctype: str):  # type: ignore[no-untyped-def]
    def answer(_req: object) -> Answer:
        return Answer(200, raw, {"Content-Type": ctype})

    return answer


def teaser(title: str, link: str, date: str, summary: str = "摘要。") -> Item:
    return Item(title=title, link=link, body=summary, date=datetime.fromisoformat(date))


def bbc_blocks() -> list[dict[str, object]]:
    def frag(text: str, *attrs: str) -> dict[str, object]:
        return {"type": "fragment", "model": {"text": text, "attributes": list(attrs)}}

    def para(*frags: dict[str, object]) -> dict[str, object]:
        return {
            "type": "text",
            "model": {"blocks": [{"type": "paragraph", "model": {"blocks": list(frags)}}]},
        }

    def text_of(t: str) -> dict[str, object]:
        return {
            "type": "text",
            "model": {"blocks": [{"type": "paragraph", "model": {"blocks": [frag(t)]}}]},
        }

    return [
        {"type": "headline", "model": {"blocks": [text_of("香港民主派审讯开庭")]}},
        {
            "type": "byline",
            "model": {
                "blocks": [
                    {
                        "type": "contributor",
                        "model": {
                            "blocks": [{"type": "name", "model": {"blocks": [text_of("陈静")]}}]
                        },
                    }
                ]
            },
        },
        {
            "type": "image",
            "model": {
                "blocks": [
                    {
                        "type": "rawImage",
                        "model": {
                            "originCode": "cpsprodpb",
                            "locator": "1a2b/live/court.jpg",
                            "copyrightHolder": "Reuters",
                            "width": 1024,
                            "height": 576,
                        },
                    },
                    {"type": "altText", "model": {"blocks": [text_of("法院")]}},
                    {"type": "caption", "model": {"blocks": [text_of(CAP1)]}},
                ]
            },
        },
        para(frag(P1[:10], "bold"), frag(P1[10:])),
        {"type": "subheadline", "model": {"blocks": [text_of(SUB)]}},
        para(
            frag(P2),
            {
                "type": "urlLink",
                "model": {
                    "locator": "https://www.bbc.com/zhongwen/simp/articles/c999",
                    "blocks": [frag("相关报道")],
                },
            },
        ),
        {
            "type": "video",
            "model": {
                "blocks": [
                    {"type": "caption", "model": {"blocks": [text_of("视频：法院外的人群")]}}
                ]
            },
        },
        para(frag(P3, "italic")),
        {"type": "social", "model": {"source": "https://twitter.com/bbcchinese/status/1"}},
    ]


def bbc_page(first_ms: int, last_ms: int) -> bytes:
    data = {
        "props": {
            "pageProps": {
                "pageData": {
                    "metadata": {"firstPublished": first_ms, "lastPublished": last_ms},
                    "content": {"model": {"blocks": bbc_blocks()}},
                }
            }
        }
    }
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>香港民主派审讯开庭 - BBC News 中文</title></head>"
        f"<body>{NAV}<main role='main'><div id='root'>页面需要 JavaScript</div></main>{RELATED}{FOOTER}"
        f'<script id="__NEXT_DATA__" type="application/json">{json.dumps(data, ensure_ascii=False)}</script>'
        "</body></html>"
    ).encode()


def bbc_old_page() -> bytes:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>旧文章</title></head>"
        f"<body>{NAV}<main role='main'><h1>旧文章</h1><time datetime='2015-06-01T08:00:00Z'>2015年6月1日</time>"
        f"<figure><img src='https://ichef.bbci.co.uk/news/640/old.jpg'><figcaption>{CAP2}</figcaption></figure>"
        f"<p>{P1}</p><p>{P2}</p>"
        f"<section aria-labelledby='related'><h2 id='related'>相关新闻</h2><a href='/r'>另一篇报道的标题</a></section>"
        f"</main>{FOOTER}</body></html>"
    ).encode()


def voa_page() -> bytes:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>VOA</title>"
        "<meta name='author' content='李明'></head>"
        f"<body>{NAV}<div class='published'><span class='date'><time datetime='2022-11-24T09:30:00+08:00'>2022年11月24日</time></span></div>"
        f"<div class='cover-media'><figure><img src='https://gdb.voanews.com/cover.jpg' width='800'><figcaption><span class='caption'>{CAP1}</span></figcaption></figure></div>"
        "<div id='article-content'><div class='wsw'>"
        f"<p>{P1}</p><h2>{SUB}</h2><p>{P2}</p>"
        "<div class='wsw__embed'><div class='media-block'><a href='/a/123.html'>相关新闻：另一篇报道的标题</a></div></div>"
        f"<div class='wsw__embed'><figure class='media-image'><img src='https://gdb.voanews.com/inline.jpg'><figcaption>{CAP2}</figcaption></figure></div>"
        f"<p>{P3}</p></div></div>{RELATED}{FOOTER}</body></html>"
    ).encode()


def rfi_page() -> bytes:
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "香港审讯",
        "datePublished": "2022-11-24T10:00:00+00:00",
        "dateModified": "2022-11-24T12:30:00+00:00",
        "author": [{"@type": "Person", "name": "王晓雯"}, {"@type": "Person", "name": "张伟"}],
    }
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>RFI</title>"
        f"<script type='application/ld+json'>{json.dumps(ld, ensure_ascii=False)}</script></head>"
        f"<body>{NAV}<article><h1>香港审讯</h1><p class='t-content__chapo'>{P1}</p>"
        f"<div class='t-content__main-media'><figure><img data-src='https://s.rfi.fr/media/main.jpg' src='data:image/gif;base64,R0lGOD'><figcaption>{CAP1}</figcaption></figure></div>"
        f"<div class='t-content__body'><p>{P2}</p><div class='m-interstitial'><a href='/r'>相关新闻：另一篇报道的标题</a></div>"
        f"<p>{P3}</p><div class='o-self-promo'>下载法广应用程序，版权所有</div></div></article>{RELATED}{FOOTER}</body></html>"
    ).encode()


def nyt_page() -> bytes:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>纽约时报中文网</title></head>"
        f"<body>{NAV}<header><h1>香港审讯</h1><div class='byline'><address><span class='byline-author'>储百亮</span></address>"
        "<time datetime='2022-11-24 08:15:00'>2022年11月24日</time></div></header>"
        f"<figure class='article-span-photo'><img src='https://static01.nyt.com/images/cover.jpg'><figcaption>{CAP1}<span class='credit'>Lam Yik Fei for The New York Times</span></figcaption></figure>"
        f"<section class='article-body'><div class='article-paragraph'>{P1}</div>"
        "<div class='big_ad'>广告 版权所有</div>"
        f"<div class='article-paragraph'>{P2}</div>"
        "<div class='article-body-aside'><a href='/r'>相关新闻：另一篇报道的标题</a></div>"
        f"<div class='article-paragraph'>{P3}</div>"
        "<div class='article-paragraph'>翻译：纽约时报中文网</div>"
        "<div class='article-paragraph'>点击查看本文英文版。欢迎在Twitter上关注NYT中文网(@nytchinese)。如对本文有任何意见，请写信至cn.letters@nytimes.com。</div>"
        f"</section>{RELATED}{FOOTER}</body></html>"
    ).encode()


def rfa_page() -> bytes:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>自由亚洲电台</title></head>"
        f"<body>{NAV}<div id='headerimg'><img src='https://www.rfa.org/header.jpg'><p class='caption'>{CAP1}</p></div>"
        "<div id='story_byline'><span>记者：陈静</span></div><span id='story_date'>2022-11-24</span>"
        f"<div id='storytext'><p>{P1}</p><p>{P2}</p><div class='sharethis'>分享到 Facebook 版权所有</div><p>{P3}</p></div>"
        f"{RELATED}{FOOTER}</body></html>"
    ).encode()


def cdt_page() -> bytes:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>中国数字时代</title></head>"
        f"<body>{NAV}<article><h1 class='entry-title'>香港审讯</h1>"
        "<time class='entry-date' datetime='2022-11-24T03:00:00+00:00'>2022年11月24日</time>"
        "<div class='post-content'>"
        f"<div class='wp-caption'><img class='wp-image-1' data-src='https://chinadigitaltimes.net/chinese/files/2022/11/a.jpg' src='data:image/gif;base64,R0lGOD'><p class='wp-caption-text'>{CAP1}</p></div>"
        f"<p>{P1}</p><p>{P2}</p><p>{P3}</p><div class='sharedaddy'>分享：版权所有</div>"
        "<div class='jp-relatedposts'>相关新闻：另一篇报道的标题</div></div></article>"
        f"{RELATED}{FOOTER}</body></html>"
    ).encode()


def generic_gbk_page() -> bytes:
    """A page of an unknown site that says UTF-8 and is GBK, with lazy pictures."""
    text = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>新闻网</title>"
        "<meta property='article:published_time' content='2022-11-24T06:00:00Z'>"
        "<meta name='author' content='朱镕基研究组'></head>"
        f"<body>{NAV}<div class='article'><h1>香港审讯</h1>"
        f"<div class='content'><p>{P1}朱镕基曾说过类似的话。</p>"
        "<div class='img-wrap'><img src='/static/grey.gif' data-original='/photos/1.jpg' width='640'>"
        f"<div class='img-desc'>{CAP1}</div></div>"
        f"<p>{P2}</p><p>{P2[::-1]}这一段倒着写，使正文更长一些，足以让提取器认出它来。</p>"
        "<div class='pic'><img srcset='/photos/2-480.jpg 480w, /photos/2.jpg 1024w'>"
        f"<noscript><img src='/photos/2.jpg'></noscript><em>{CAP2}</em></div>"
        f"<p>{P3}</p><p>{P3[::-1]}这一段同样倒着写，再加上一些文字让它足够长。</p></div></div>"
        f"{RELATED}{FOOTER}</body></html>"
    )
    return text.encode("gb18030")


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).astimezone(UTC).timestamp() * 1000)
