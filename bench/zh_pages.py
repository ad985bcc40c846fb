"""Chinese article pages with known text, pictures and captions, for bench/extract.py.

Each page is one article laid out by one of twelve templates modelled on the shapes Chinese
news pages really have: WordPress with ``wp-caption`` and lazy ``data-src``; a modern CMS
with a headline figure outside the body, ``<picture>`` and ``data-original``; a portal in
GBK that declares gb2312 and centres captions in a ``<p>`` under the picture; a Big5
Traditional page that declares nothing; a GBK page that claims to be UTF-8; placeholders
with ``<noscript>`` copies; ``srcset``-only pictures with ``<em>`` captions; an old table
layout with ``<font>`` captions; a page whose pictures and captions sit in ``div.photo``;
a GBK portal with ``<img><br>caption`` in one centred paragraph; a lazy gallery list; an
AMP page with ``<amp-img>``.
Every page carries furniture: navigation, related stories with thumbnails, share icons,
ads, comments, a footer.

The truth of each page is the paragraphs and sub-heads (text), and each picture's URL and
caption.  Deterministic: the same pages every run.
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable
from dataclasses import dataclass

import opencc
import zh_corpus as z


@dataclass
class Spec:
    """One article to lay out."""

    n: int
    title: str
    blocks: list[tuple[str, str]]  # ("p"|"h", text) or ("img", index into images)
    images: list[tuple[str, str]]  # (src, caption or "")
    author: str
    date: str


@dataclass
class Built:
    """A page and its truth."""

    name: str
    url: str
    raw: bytes
    content_type: str
    text: str
    images: list[tuple[str, str]]


def _spec(n: int, rng: random.Random) -> Spec:
    sentences = rng.sample(z.SENTENCES, 18)
    title = sentences[0].split("，")[0].rstrip("。")[:26]
    n_img = rng.randint(1, 4)
    images = []
    for j in range(n_img):
        caption = rng.choice(z.CAPTIONS) if rng.random() > 0.15 else ""
        images.append((f"https://img.news-example.cn/2022/11/{n:02d}/photo-{j}.jpg", caption))
    blocks: list[tuple[str, str]] = [("img", "0")]
    paras = []
    i = 0
    while i < len(sentences):
        k = rng.randint(1, 3)
        paras.append("".join(sentences[i : i + k]))
        i += k
    next_img = 1
    for pi, p in enumerate(paras):
        blocks.append(("p", p))
        if pi in (2, 4) and rng.random() < 0.6:
            blocks.append(("h", rng.choice(z.SUBHEADS)))
        if pi % 2 == 1 and next_img < n_img:
            blocks.append(("img", str(next_img)))
            next_img += 1
    author = rng.choice(["李明", "王晓雯", "张伟（柏林）", "陈静"])
    date = f"2022-11-{rng.randint(10, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+08:00"
    return Spec(n, title, blocks, images, author, date)


def _nav() -> str:
    return (
        "<nav><ul>"
        + "".join(f'<li><a href="/{i}">{t}</a></li>' for i, t in enumerate(z.NAV))
        + "</ul></nav>"
    )


def _related(n: int, thumbs: bool = True) -> str:
    items = []
    for i, t in enumerate(z.RELATED[:5]):
        img = (
            f'<img src="https://img.news-example.cn/thumb/{n}-{i}.jpg" width="160" height="90">'
            if thumbs
            else ""
        )
        items.append(f'<li><a href="/news/{n}{i}.html">{img}<span>{t}</span></a></li>')
    return '<div class="related-news"><h3>相关新闻</h3><ul>' + "".join(items) + "</ul></div>"


def _share() -> str:
    return (
        '<div class="share-bar"><a href="#"><img src="/static/icons/weibo.png" width="24" height="24"></a>'
        '<a href="#"><img src="/static/icons/wechat.png" width="24" height="24"></a></div>'
    )


def _ad() -> str:
    return '<div class="ad-box"><a href="https://ads.example.com/c?1"><img src="https://ads.example.com/banner-300x250.jpg" class="ad" width="300" height="250"></a></div>'


def _comments() -> str:
    return (
        '<div id="comments"><h3>网友评论</h3>'
        + "".join(f'<div class="comment"><p>{c}</p></div>' for c in z.COMMENTS)
        + "</div>"
    )


def _footer() -> str:
    # What real pages carry besides the article: a site map of links, tracking and state
    # scripts, styles (~40 KB in all, the size of a light news page).
    sitemap = "".join(f'<a href="/channel/{i}">{z.NAV[i % len(z.NAV)]}{i}</a> ' for i in range(150))
    state = "{" + ",".join(f'"k{i}": "{z.RELATED[i % len(z.RELATED)]}"' for i in range(600)) + "}"
    style = ".a{color:#333}" * 300
    return (
        f"<footer><div class='sitemap'>{sitemap}</div><p>{z.FOOTER}</p></footer>"
        f"<style>{style}</style><script>window.__STATE__ = {state};</script>"
    )


def _head(spec: Spec, charset: str | None = "utf-8", extra: str = "") -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return (
        f"<!DOCTYPE html><html><head>{meta}<title>{spec.title} - 新闻网</title>"
        f'<meta property="og:title" content="{spec.title}">'
        f'<meta property="og:image" content="{spec.images[0][0]}">{extra}</head>'
    )


def _body_html(spec: Spec, picture: Callable[[str, str, int], str], p_tag: str = "p") -> str:
    out = []
    for kind, value in spec.blocks:
        if kind == "p":
            out.append(f"<{p_tag}>{html.escape(value)}</{p_tag}>")
        elif kind == "h":
            out.append(f"<h2>{html.escape(value)}</h2>")
        else:
            src, cap = spec.images[int(value)]
            out.append(picture(src, cap, int(value)))
    return "".join(out)


# ---- templates ---------------------------------------------------------------------------


def wordpress(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        lazy = f'<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="{src}" class="lazyload wp-image-{i}" width="800" height="533">'
        if not cap:
            return f"<p>{lazy}</p>"
        if i % 2:
            return f'<div class="wp-caption aligncenter">{lazy}<p class="wp-caption-text">{cap}</p></div>'
        return f'<figure class="wp-block-image size-large">{lazy}<figcaption>{cap}</figcaption></figure>'

    page = (
        _head(spec)
        + f'<body class="single"><header id="masthead">{_nav()}</header><div id="content"><main id="main">'
        + f'<article class="post"><h1 class="entry-title">{spec.title}</h1>'
        + f'<div class="entry-meta">发表于 2022年11月 作者：{spec.author}</div>'
        + f'<div class="post-content entry-content">{_body_html(spec, pic)}</div>'
        + '<div class="post-tags">标签：<a href="/tag/1">中国</a> <a href="/tag/2">人权</a></div></article>'
        + _comments()
        + f'</main><aside id="secondary" class="widget-area">{_related(spec.n)}{_ad()}</aside></div>{_footer()}</body></html>'
    )
    return page, "utf-8", "text/html; charset=UTF-8"


def cms(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        cap_html = (
            f'<figcaption class="media-caption"><span>{cap}</span></figcaption>' if cap else ""
        )
        if i == 0:
            return ""  # the headline figure sits outside the body
        return (
            f'<figure class="media inline"><picture><source type="image/webp" srcset="{src}.webp 640w, {src}.webp 1280w">'
            f'<img src="/static/grey.gif" data-original="{src}" alt=""></picture>{cap_html}</figure>'
        )

    src0, cap0 = spec.images[0]
    hero = (
        f'<figure class="hero"><img src="{src0}" alt="" width="1024" height="576">'
        + (f"<figcaption>{cap0}</figcaption>" if cap0 else "")
        + "</figure>"
    )
    page = (
        _head(spec)
        + f"<body><div class='top'>{_nav()}</div><div class='layout'><article class='story'>"
        + f"<header class='story-header'><h1>{spec.title}</h1><p class='byline'>记者 {spec.author}</p>{hero}</header>"
        + f"<div class='story-body'>{_body_html(spec, pic)}</div>{_share()}</article>"
        + f"<aside class='sidebar'>{_related(spec.n)}<div class='most-read'><h3>热门</h3><ol>"
        + "".join(f"<li><a href='/r{i}'>{t}</a></li>" for i, t in enumerate(z.RELATED[3:]))
        + f"</ol></div></aside></div>{_footer()}</body></html>"
    )
    return page, "utf-8", "text/html; charset=utf-8"


def portal_gbk(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        out = f'<p style="text-align: center;"><img src="{src}" border="0"></p>'
        return out + (f'<p style="text-align: center;">{cap}</p>' if cap else "")

    page = (
        _head(spec, None, '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
        + f'<body><div class="header">{_nav()}</div><div class="main_content"><div class="left">'
        + f'<h1 class="main-title">{spec.title}</h1><div class="date-source"><span class="date">2022年11月20日 10:20</span> <span class="source">新闻网</span></div>'
        + f'<div class="article" id="artibody">{_body_html(spec, pic)}<p class="article-editor">责任编辑：{spec.author}</p></div>'
        + f'{_ad()}</div><div class="right">{_related(spec.n)}{_ad()}</div></div>{_footer()}</body></html>'
    )
    return page, "gb18030", "text/html"  # no charset in the header: only the (wrong) meta


def big5_tw(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        c = f'<span class="photo-caption">{cap}</span>' if cap else ""
        return f'<div class="photo"><img src="{src}" alt="">{c}</div>'

    conv = opencc.OpenCC("s2tw")
    page = conv.convert(
        _head(spec, None)
        + f'<body><div id="nav">{_nav()}</div><div id="story"><h1>{spec.title}</h1>'
        + f'<div class="story-text">{_body_html(spec, pic)}</div></div>'
        + f'<div id="side">{_related(spec.n)}</div>{_footer()}</body></html>'
    )
    return page, "big5hkscs", "text/html"


def utf8_liar(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        c = f'<div class="img-desc">{cap}</div>' if cap else ""
        return f'<div class="img-wrap"><img src="{src}" width="640">{c}</div>'

    page = (
        _head(spec, "utf-8")
        + f'<body>{_nav()}<div class="container"><div class="article-main"><h1>{spec.title}</h1>'
        + f'<div class="info">来源：新闻网 作者：{spec.author}</div>'
        + f'<div class="article-content">{_body_html(spec, pic)}</div></div>'
        + f'<div class="side">{_related(spec.n)}</div></div>{_footer()}</body></html>'
    )
    return page, "gb18030", "text/html; charset=utf-8"


def noscript(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        c = f'<p class="image-caption">{cap}</p>' if cap else ""
        return (
            f'<div class="image-block"><img class="js-lazy" src="/assets/placeholder.png" width="800" height="450">'
            f'<noscript><img src="{src}" width="800" height="450"></noscript>{c}</div>'
        )

    page = (
        _head(spec)
        + f'<body>{_nav()}<main><div class="article"><h1>{spec.title}</h1><time datetime="{spec.date}">2022年11月</time>'
        + f'<div class="article__body">{_body_html(spec, pic)}</div>{_share()}</div>{_related(spec.n)}{_comments()}</main>{_footer()}</body></html>'
    )
    return page, "utf-8", "text/html; charset=utf-8"


def srcset_only(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        base = src.rsplit(".", 1)[0]
        c = f"<em>{cap}</em>" if cap else ""
        return (
            f'<div class="pic"><img srcset="{base}-480.jpg 480w, {src} 1024w, {base}-2048.jpg 2048w" '
            f'sizes="(max-width: 600px) 480px, 1024px" alt="">{c}</div>'
        )

    page = (
        _head(spec)
        + f'<body><header>{_nav()}</header><div class="wrap"><div class="post"><h1>{spec.title}</h1>'
        + f'<div class="text">{_body_html(spec, pic)}</div></div><div class="recommend">{_related(spec.n)}</div></div>{_footer()}</body></html>'
    )
    return page, "utf-8", "text/html; charset=utf-8"


def table_layout(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        c = f'<br><font size="2" color="#666666">{cap}</font>' if cap else ""
        return f'<table align="center" width="500"><tr><td align="center"><img src="{src}" width="500">{c}</td></tr></table>'

    page = (
        _head(spec, "utf-8")
        + f'<body><table width="960"><tr><td colspan="2">{_nav()}</td></tr><tr><td width="700" valign="top">'
        + f'<h1>{spec.title}</h1><div id="zoom">{_body_html(spec, pic)}</div></td>'
        + f'<td width="260" valign="top">{_related(spec.n)}{_ad()}</td></tr></table>{_footer()}</body></html>'
    )
    return page, "utf-8", "text/html"


def photo_divs(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        c = f'<div class="photo-text">{cap}</div>' if cap else ""
        return f'<div class="photo-box"><a href="{src}"><img data-lazy-src="{src}" src="/static/loading.gif"></a>{c}</div>'

    ld = (
        '<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",'
        f'"headline":"{spec.title}","datePublished":"{spec.date}","author":{{"@type":"Person","name":"{spec.author}"}}}}</script>'
    )
    page = (
        _head(spec, "utf-8", ld)
        + f'<body>{_nav()}<div class="page"><section class="content"><h1>{spec.title}</h1>'
        + f'<div class="article-text">{_body_html(spec, pic, "p")}</div></section>'
        + f'<section class="more-news">{_related(spec.n)}</section></div>{_comments()}{_footer()}</body></html>'
    )
    return page, "utf-8", "text/html; charset=utf-8"


def br_caption(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        c = f"<br>{cap}" if cap else ""
        return f'<p class="f_center"><img alt="{spec.title}" src="{src}">{c}</p>'

    page = (
        _head(spec, None, '<meta http-equiv="Content-Type" content="text/html; charset=gbk">')
        + f'<body><div class="N-nav">{_nav()}</div><div class="post_content_main"><h1>{spec.title}</h1>'
        + '<div class="post_time_source">2022-11-20 10:20:33　来源: <a href="/">新闻网</a></div>'
        + f'<div class="post_text" id="endText">{_body_html(spec, pic)}</div>'
        + f'<div class="post_btmshare">{_share()}</div></div><div class="post_side">{_related(spec.n)}{_ad()}</div>{_footer()}</body></html>'
    )
    return page, "gbk", "text/html; charset=GBK"


def gallery(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        c = f'<p class="gallery-caption">{cap}</p>' if cap else ""
        return f'<div class="gallery"><ul><li><img data-src="{src}" src="/img/lazy.svg">{c}</li></ul></div>'

    page = (
        _head(spec)
        + f'<body>{_nav()}<div class="article-wrap"><h1>{spec.title}</h1><div class="meta">{spec.author}</div>'
        + f'<div class="rich-text">{_body_html(spec, pic)}</div></div>{_related(spec.n)}{_comments()}{_footer()}</body></html>'
    )
    return page, "utf-8", "text/html; charset=utf-8"


def amp(spec: Spec) -> tuple[str, str, str]:
    def pic(src: str, cap: str, i: int) -> str:
        c = f"<figcaption>{cap}</figcaption>" if cap else ""
        return (
            f'<figure><amp-img src="{src}" width="1024" height="576" layout="responsive">'
            f'<noscript><img src="{src}"></noscript></amp-img>{c}</figure>'
        )

    page = (
        _head(spec)
        + f'<body><header>{_nav()}</header><main role="main"><article><h1>{spec.title}</h1>'
        + f"{_body_html(spec, pic)}</article></main><aside>{_related(spec.n)}</aside>{_footer()}</body></html>"
    )
    return page, "utf-8", "text/html; charset=utf-8"


TEMPLATES: dict[str, Callable[[Spec], tuple[str, str, str]]] = {
    "wordpress": wordpress,
    "cms": cms,
    "portal-gbk": portal_gbk,
    "big5-undeclared": big5_tw,
    "gbk-says-utf8": utf8_liar,
    "noscript": noscript,
    "srcset-only": srcset_only,
    "table-layout": table_layout,
    "photo-divs": photo_divs,
    "br-caption-gbk": br_caption,
    "gallery": gallery,
    "amp": amp,
}


def build(per_template: int = 3, seed: int = 20221124) -> list[Built]:
    """``per_template`` pages of each template with their truth."""
    rng = random.Random(seed)
    out = []
    n = 0
    t2tw = opencc.OpenCC("s2tw")
    for name, template in TEMPLATES.items():
        for _ in range(per_template):
            spec = _spec(n, rng)
            page, encoding, ctype = template(spec)
            text = "\n".join(v for k, v in spec.blocks if k in ("p", "h"))
            images = list(spec.images)
            if name == "big5-undeclared":
                text = t2tw.convert(text)
                images = [(s, t2tw.convert(c)) for s, c in images]
            out.append(
                Built(
                    name=f"{name}-{n}",
                    url=f"https://www.news-example.cn/2022/11/{n}.html",
                    raw=page.encode(encoding, "xmlcharrefreplace"),
                    content_type=ctype,
                    text=text,
                    images=images,
                )
            )
            n += 1
    return out
