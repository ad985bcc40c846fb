"""``newsmirror init``: a commented starting config and an empty archive folder."""

from __future__ import annotations

from pathlib import Path

from .config import Settings, load
from .errors import ConfigError

TEMPLATE = """\
# newsmirror configuration.  Paths are relative to this file.
# Reference: the "Configuration" section of newsmirror's README.

[archive]
path = "archive"              # the archive folder (the git work tree when publishing)
layout = "dated"              # "dated": articles/{source}/{YYYY-MM-DD}/{id}.md
                              # "duty-machine": articles/{source}/{n}.md + lists/, drop-in
                              #   for the existing hourly mirror repositories
# keep_tracking_params = false   # keep utm_*, maca, at_* in the links written to files
# list_size = 300                # entries per lists/{name}.md

[network]
allow_private_networks = false   # refuse loopback/private addresses (SSRF guard)
# timeout = "60s"                # total time for one request, body included
# max_response_bytes = 15728640  # decoded size cap per response
# concurrency = 16               # requests in flight overall
# per_host_concurrency = 2       # requests in flight per host
# per_host_delay = "0.2s"        # between two request starts to the same host

[images]
mode = "proxy"                   # "proxy": image URLs through the first template below;
                                 # "copy": downloaded once into assets/ (the proxy until then);
                                 # "original": as the outlet gives them
proxies = ["https://images.weserv.nl/?url={url_noscheme}"]
# When a proxy gets blocked, put another first and run `newsmirror rewrite-images`.
# max_bytes = 10485760           # copy mode: larger images stay proxied
# types = ["jpeg", "png", "gif", "webp", "avif"]
# repository = "../news-images"  # copy mode: the copies in a repository of their own
# repository_url = "https://raw.githubusercontent.com/you/news-images/main/"

[links]
mode = "archive"                 # links to mirrored articles go to the copy in the archive;
                                 # "as-published": leave every link as the outlet wrote it

[script]
mode = "as-published"            # or "hans", "hant", or "both" (a second file, cross-linked);
                                 # sources may set their own `script`
traditional = "standard"         # "tw", "twp" (Taiwan phrases) or "hk" for Traditional output

[schedule]
every = "1h"                     # interval of `newsmirror run`

[site]                           # `newsmirror build`: the static website and outgoing feeds
path = "public"                  # where the site is written (outside the archive folder)
# base_url = "https://example.org/mirror/"   # where it is published: absolute feed links
title = "newsmirror"
page_size = 50                   # entries per index page
feed_size = 50                   # entries per outgoing feed
pagefind = true                  # static search (Pagefind), one index per month

[watch]                          # look again at archived articles: edits, take-downs
enabled = true
intervals = ["1h", "3h", "12h", "1d", "3d", "7d"]   # after archiving; the last repeats
horizon = "30d"                  # then an article is left alone
budget = 200                     # re-checks per pass at most
# save_page_now = true           # also ask the Internet Archive to capture edited/removed pages

[health]
max_failing = "1d"               # `newsmirror status` exits 3 when a source fails longer
max_silence = "2d"               # ... or when nothing new was archived for longer
# webhook = "https://hooks.example.org/newsmirror"  # POSTed JSON when a source starts failing

[publish.git]
enabled = true                   # commit the archive after each pass that changed it
remotes = []                     # e.g. ["origin"]: pushed after each commit

# [bundles]                      # offline files of the latest periods, on the site
# periods = ["day", "week"]
# archive = false                # true: kept in the archive's bundles/ too

# [rotate]                       # `newsmirror rotate`: old articles to a repository per year
# enabled = true
# keep_months = 6
# url = "https://github.com/you/news-{period}/blob/main/"
# front_url = "https://github.com/you/news/blob/main/"
# remote = "git@github.com:you/news-{period}.git"

# ---------------------------------------------------------------------------------------
# Sources.  `id` is the folder under articles/, `name` is shown in lists and the README.
# kind = "feed": RSS 0.9x/2.0, RSS 1.0/RDF, Atom or JSON Feed; the article body is the
# item's full content (content:encoded, Atom content, content_html), else its description.

# kind = "dw": DW read natively (its RSS listing, then each article's JSON), not through a
# third-party full-text feed.  language: "zh" (Simplified), "zh-hant" (Traditional), or any
# DW language code; article ids are the same in both Chinese sites.

[[sources]]
id = "dw"
name = "德国之声"
kind = "dw"
language = "zh"
# feed_url = "https://rss.dw.com/rdf/rss-chi-all"  # the listing (default for the language)
# site_url = "https://www.dw.com"                  # graph-api and article pages live under it
# image_format = 605                               # DW image format id: 605 is 1199 px wide

[[sources]]
id = "dw-hant"
name = "德國之聲"
kind = "dw"
language = "zh-hant"

# RFA and China Digital Times put the whole article in the feed (content:encoded);
# "auto" fetches the page only for an item that carries a teaser.

[[sources]]
id = "rfa"
name = "自由亚洲电台"
kind = "feed"
url = "https://www.rfa.org/mandarin/rss2.xml"
fulltext = "auto"

[[sources]]
id = "cdt"
name = "中国数字时代"
kind = "feed"
url = "https://chinadigitaltimes.net/chinese/feed/"
fulltext = "auto"

# These outlets' feeds carry only a teaser: `fulltext = "page"` fetches each article's
# page and keeps the article (text, pictures with captions, date, authors).  The extractor
# is chosen by the page's host (bbc, voa, rfi, nyt, rfa, cdt; "generic" for any other).

[[sources]]
id = "bbc"
name = "BBC 中文"
kind = "feed"
url = "https://feeds.bbci.co.uk/zhongwen/simp/rss.xml"
fulltext = "page"

# VOA's feeds have opaque addresses: take one from the site's RSS page.
# [[sources]]
# id = "voa"
# name = "美国之音"
# kind = "feed"
# url = "https://www.voachinese.com/api/…"
# fulltext = "page"

[[sources]]
id = "rfi"
name = "法广"
kind = "feed"
url = "https://www.rfi.fr/cn/rss"
fulltext = "page"

[[sources]]
id = "nyt"
name = "纽约时报中文网"
kind = "feed"
url = "https://cn.nytimes.com/rss/"
fulltext = "page"

# Any full-text feed, e.g. a third-party full-text feed:
#
# [[sources]]
# id = "dw-fulltext"
# name = "德国之声（全文源）"
# kind = "feed"
# url = "https://example.org/dw-fulltext.xml"
"""


def write_initial_config(
    path: Path, *, force: bool = False, github_actions: bool = False
) -> Settings:
    """Write the template to ``path`` (refusing to overwrite) and create the archive folder.

    ``github_actions``: the config sits in the archive repository itself, which the
    workflow checks out into ``archive/`` (see :mod:`newsmirror.actions`).
    """
    if path.exists() and not force:
        raise ConfigError(f"{path}: already exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    from .actions import config_for_actions

    path.write_text(config_for_actions(TEMPLATE) if github_actions else TEMPLATE, "utf-8")
    settings = load(path)
    settings.archive.path.mkdir(parents=True, exist_ok=True)
    if settings.git.enabled:
        from .publish.git import GitRepo

        GitRepo(settings.archive.path).ensure()
    return settings
