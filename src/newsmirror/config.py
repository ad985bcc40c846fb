"""TOML config -> one frozen, validated :class:`Settings` object.

Every error names the file, the key (``sources[2].url``) and what is wrong, because operators
edit this file by hand and run the tool from cron, where a vague message costs an evening.
Unknown keys are errors too: a typo must not silently fall back to a default.
Paths are relative to the config file, so the same file works from any working directory.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from . import __version__
from .config_table import MAX_DURATION, parse_duration
from .config_table import Table as _Table
from .errors import ConfigError

Layout = Literal["dated", "duty-machine"]
LAYOUTS: tuple[Layout, ...] = ("dated", "duty-machine")
SOURCE_KINDS = ("feed", "dw")
DW_SITE = "https://www.dw.com"
# DW's RSS channel codes differ from its site language codes for a few languages.
_DW_RSS_CODES = {
    "zh": "chi",
    "zh-hant": "chi",
    "en": "en",
    "de": "de",
    "ru": "rus",
    "uk": "ukr",
    "fa-ir": "per",
    "ar": "ar",
    "tr": "tur",
    "es": "es",
    "fr": "fr",
    "pt-br": "pt-bra",
    "id": "ind",
    "hi": "hi",
    "ur": "ur",
    "bn": "bn",
    "sw": "sw",
    "ha": "hau",
    "am": "amh",
    "sq": "alb",
    "bs": "bos",
    "bg": "bul",
    "hr": "hrv",
    "el": "gre",
    "mk": "mkd",
    "pl": "pol",
    "ro": "rum",
    "sr": "ser",
    "ps": "pas",
    "dari": "dar",
    "pt-002": "pt-af",
}


def dw_feed_url(language: str) -> str:
    """The RSS/RDF listing of a DW language site."""
    code = _DW_RSS_CODES.get(language, language)
    return f"https://rss.dw.com/rdf/rss-{code}-all"


DEFAULT_USER_AGENT = f"newsmirror/{__version__} (+https://github.com/newsmirror/newsmirror)"
DEFAULT_CONFIG_NAME = "newsmirror.toml"

_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class ArchiveSettings:
    """Where and how article files are written."""

    path: Path
    layout: Layout = "dated"
    keep_tracking_params: bool = False
    list_size: int = 300
    fsync: bool = True
    processes: int | None = None  # parsing processes; None: one per core (cores.py)


RotatePeriod = Literal["year", "month"]
ROTATE_PERIODS: tuple[RotatePeriod, ...] = ("year", "month")
HistoryMode = Literal["squash", "keep"]
HISTORY_MODES: tuple[HistoryMode, ...] = ("squash", "keep")


@dataclass(frozen=True, slots=True)
class RotateSettings:
    """Moving old articles out of the archive into per-period repositories (``rotate.py``).

    Templates take ``{period}`` (``2024`` or ``2024-05``): ``folder`` is where a period's
    work tree is (relative to the config file), ``url`` how a reader reaches a file there
    (``…/blob/main/``), ``remote`` where it is pushed.  ``front_url`` is the same for the
    archive itself, which period repositories link back to.
    """

    enabled: bool = False
    keep_months: int = 6
    period: RotatePeriod = "year"
    folder: str = ""
    url: str = ""
    front_url: str = ""
    remote: str = ""
    history: HistoryMode = "squash"

    def folder_of(self, period: str) -> Path:
        """The work tree of one period's repository."""
        return Path(self.folder.replace("{period}", period))

    def url_of(self, period: str | None) -> str:
        """Where readers find the files of ``period`` (None: the archive itself)."""
        return self.front_url if period is None else self.url.replace("{period}", period)


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    """Limits and politeness for every request."""

    allow_private_networks: bool = False
    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_response_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 16
    per_host_concurrency: int = 2
    per_host_delay: float = 0.2
    user_agent: str = DEFAULT_USER_AGENT
    # Article pages: how often a failed fetch (HTTP 429/5xx, network) is tried again in the
    # same pass, the first wait (doubling each time), and the longest Retry-After we wait
    # for; a server asking for more makes the article wait for the next pass instead.
    retries: int = 2
    retry_delay: float = 2.0
    max_retry_wait: float = 60.0


ImageMode = Literal["proxy", "copy", "original"]
IMAGE_MODES: tuple[ImageMode, ...] = ("proxy", "copy", "original")
DEFAULT_PROXIES = ("https://images.weserv.nl/?url={url_noscheme}",)
IMAGE_TYPES = ("jpeg", "png", "gif", "webp", "avif")

# Where an article's text comes from: the feed item, the article page, or the page only
# when the item carries a teaser.
FulltextMode = Literal["feed", "page", "auto"]
FULLTEXT_MODES: tuple[FulltextMode, ...] = ("feed", "page", "auto")
EXTRACTORS = ("auto", "generic", "bbc", "voa", "rfi", "nyt", "rfa", "cdt")

ScriptMode = Literal["as-published", "hans", "hant", "both"]
SCRIPT_MODES: tuple[ScriptMode, ...] = ("as-published", "hans", "hant", "both")
# Which Traditional standard "hant" (and the second script of "both") is written in.
Traditional = Literal["standard", "tw", "twp", "hk"]
TRADITIONAL: tuple[Traditional, ...] = ("standard", "tw", "twp", "hk")

LinkMode = Literal["archive", "as-published"]
LINK_MODES: tuple[LinkMode, ...] = ("archive", "as-published")


@dataclass(frozen=True, slots=True)
class ImageSettings:
    """How images are referenced in stored articles.

    ``copy`` downloads each image once into ``assets/`` and falls back to the first proxy
    while a download has not succeeded, so a reader always gets some working image.
    """

    mode: ImageMode = "proxy"
    proxies: tuple[str, ...] = DEFAULT_PROXIES
    max_bytes: int = 10 * 1024 * 1024
    types: tuple[str, ...] = IMAGE_TYPES
    max_attempts: int = 8
    # Copies in a repository of their own (the largest part of an archive), reached by
    # readers at ``repository_url`` (e.g. raw.githubusercontent.com/…/main/).
    repository: Path | None = None
    repository_url: str = ""


@dataclass(frozen=True, slots=True)
class GitSettings:
    """Publishing the archive folder as a git repository."""

    enabled: bool = False
    remotes: tuple[str, ...] = ()
    branch: str | None = None


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """The static website ``newsmirror build`` writes, and its outgoing feeds."""

    path: Path
    base_url: str = ""  # where the site is published; feeds need it for absolute links
    title: str = "newsmirror"
    page_size: int = 50  # entries per index page
    feed_size: int = 50  # entries per outgoing feed
    home_size: int = 10  # newest entries per source on the home page
    pagefind: bool = True  # build the static search index


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """When ``status`` reports trouble (non-zero exit), and whom to tell on failure."""

    max_failing: float = 86400.0
    max_silence: float = 2 * 86400.0
    webhook: str = ""


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """Re-checks of archived articles for edits and take-downs (see ``watch.py``).

    Each article is looked at again ``intervals`` after it was first archived (the last
    interval repeating) until ``horizon`` has passed; a pass (or a worker's re-check job, of
    one source) asks at most ``budget`` pages; ``confirm`` not-found answers in a row, on
    different passes, make a removal.
    """

    enabled: bool = False
    intervals: tuple[float, ...] = (
        3600.0,
        3 * 3600.0,
        12 * 3600.0,
        86400.0,
        3 * 86400.0,
        7 * 86400.0,
    )
    horizon: float = 30 * 86400.0
    budget: int = 200
    confirm: int = 2
    # Ask the Internet Archive's Save Page Now to capture a page on an edit or a removal.
    save_page_now: bool = False
    save_page_now_url: str = "https://web.archive.org/save/"


@dataclass(frozen=True, slots=True)
class BundleSettings:
    """Offline bundles the site keeps: the latest complete day/week/month of each period
    named, in these formats, cut by source then day past ``max_size`` bytes."""

    periods: tuple[str, ...] = ()
    formats: tuple[str, ...] = ("epub", "html")
    max_size: int = 100_000_000
    archive: bool = False  # kept in the archive too (``bundles/``), by ``update``


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """One outlet."""

    id: str
    name: str
    kind: str
    url: str
    enabled: bool = True
    keep_tracking_params: bool | None = None
    # kind = "dw"
    language: str = ""
    site_url: str = ""
    image_format: int = 605
    images: ImageMode | None = None  # overrides [images] mode
    script: ScriptMode | None = None  # overrides [script] mode
    traditional: Traditional | None = None  # overrides [script] traditional
    # kind = "feed": article text from the page (fulltext) with which extractor ("auto":
    # by the page's host, else the generic one)
    fulltext: FulltextMode = "feed"
    extractor: str = "auto"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything newsmirror needs to know, validated."""

    config_path: Path
    archive: ArchiveSettings
    network: NetworkSettings
    git: GitSettings
    sources: tuple[SourceSettings, ...]
    site: SiteSettings
    interval: float = 3600.0
    images: ImageSettings = ImageSettings()
    health: HealthSettings = HealthSettings()
    watch: WatchSettings = WatchSettings()
    bundles: BundleSettings = BundleSettings()
    rotate: RotateSettings = RotateSettings()
    script: ScriptMode = "as-published"
    traditional: Traditional = "standard"
    links: LinkMode = "archive"
    catalog_url: str = ""  # [catalog] url: PostgreSQL; empty: SQLite in the archive
    iframe_hosts: tuple[str, ...] = (
        "www.youtube.com",
        "www.youtube-nocookie.com",
        "player.vimeo.com",
    )

    @property
    def catalog_path(self) -> Path:
        """The embedded SQLite catalog lives inside the archive, out of git's sight."""
        return self.archive.path / ".newsmirror" / "catalog.sqlite"

    @property
    def catalog(self) -> Path | str:
        """Where the catalog is: a PostgreSQL URL, or the embedded SQLite file."""
        return self.catalog_url or self.catalog_path

    def repository(self, home: str | None) -> Path:
        """The work tree holding the files of ``home``: a period repository of a rotated
        archive, or (None) the archive itself."""
        return self.archive.path if home is None else self.rotate.folder_of(home)

    def image_mode(self, source: SourceSettings) -> ImageMode:
        """A source's own image mode wins over the archive-wide one."""
        return source.images or self.images.mode

    def image_proxies(self, source: SourceSettings) -> tuple[str, ...]:
        """The proxy templates to apply to a source's images (empty: leave them as they are).

        Copy mode uses them too, for images whose download has not (yet) succeeded.
        """
        return () if self.image_mode(source) == "original" else self.images.proxies

    def script_mode(self, source: SourceSettings) -> tuple[ScriptMode, Traditional]:
        """The script a source's files are written in, and the Traditional standard."""
        return source.script or self.script, source.traditional or self.traditional

    def keep_tracking(self, source: SourceSettings) -> bool:
        """A source's own setting wins over the archive-wide one."""
        if source.keep_tracking_params is not None:
            return source.keep_tracking_params
        return self.archive.keep_tracking_params


def _remotes(g: _Table) -> tuple[str, ...]:
    """Remote names as git knows them; one starting with '-' would be read as an option."""
    remotes = g.str_list("remotes")
    for r in remotes:
        if not r or r.startswith("-") or any(c.isspace() for c in r):
            g.fail("remotes", f"{r!r} is not a remote name (no leading '-', no spaces)")
    return remotes


def _http_url(t: _Table, key: str, value: str) -> str:
    value = value.strip()
    if not value.lower().startswith(("http://", "https://")):
        t.fail(key, f"{value!r} must be an http or https URL")
    return value


def _rotate(t: _Table, archive: Path, base: Path) -> RotateSettings:
    """``[rotate]``: off unless asked; the URLs are required (links must lead somewhere)."""
    enabled = t.flag("enabled", False)
    default_folder = str(archive.parent / f"{archive.name}-{{period}}")
    folder = t.text("folder", default_folder)
    if "{period}" not in folder:
        t.fail("folder", "must contain {period} (one repository per period)")
    url, front_url = t.text("url", ""), t.text("front_url", "")
    examples = {
        "url": "https://github.com/you/news-{period}/blob/main/",
        "front_url": "https://github.com/you/news/blob/main/",
    }
    for key, value in (("url", url), ("front_url", front_url)):
        if enabled and not value:
            t.fail(key, f"is required to rotate: where readers find files, e.g. {examples[key]}")
    resolved = (base / folder).resolve()
    if resolved.is_relative_to(archive):
        t.fail("folder", f"{folder!r} is inside the archive: period repositories sit beside it")
    if enabled or url:
        url = _http_url(t, "url", url)
        if "{period}" not in url:
            t.fail("url", "must contain {period} (one repository per period)")
    if enabled or front_url:
        front_url = _http_url(t, "front_url", front_url)
    remote = t.text("remote", "")
    if remote and "{period}" not in remote:
        t.fail("remote", "must contain {period} (one repository per period)")
    out = RotateSettings(
        enabled=enabled,
        keep_months=t.number("keep_months", 6, minimum=1, maximum=1200),
        period=t.choice("period", ROTATE_PERIODS, "year"),
        folder=str(resolved),
        url=url.rstrip("/") + "/" if url else "",
        front_url=front_url.rstrip("/") + "/" if front_url else "",
        remote=remote,
        history=t.choice("history", HISTORY_MODES, "squash"),
    )
    t.done()
    return out


def with_base_url(settings: Settings, url: str) -> Settings:
    """``settings`` with the site published at ``url`` (``build --base-url``)."""
    url = url.strip()
    if url and not (url.lower().startswith(("http://", "https://")) and url.isprintable()):
        raise ConfigError(f"--base-url: {url!r} must be an http or https URL")
    site = replace(settings.site, base_url=url.rstrip("/") + "/" if url else "")
    return replace(settings, site=site)


def check_source(table: Any, file: Path) -> SourceSettings:
    """One ``[[sources]]`` table read as the config would read it (raises ConfigError)."""
    return _source(_Table(table, "source", file))


def _source(t: _Table) -> SourceSettings:
    sid = t.text("id", required=True)
    if not _ID_RE.fullmatch(sid):
        t.fail(
            "id", f"{sid!r} must be lower-case letters, digits, '-' or '_' (it is a folder name)"
        )
    name = t.text("name", sid).strip() or sid
    if any(c in name for c in "/\\\0") or name.startswith("."):
        t.fail("name", f"{name!r} cannot contain '/', '\\' or start with '.' (it names a file)")
    kind = t.choice("kind", SOURCE_KINDS, "feed")
    enabled = t.flag("enabled", True)
    images: ImageMode | None = None
    if "images" in t.data:
        images = t.choice("images", IMAGE_MODES, "proxy")
    script: ScriptMode | None = None
    if "script" in t.data:
        script = t.choice("script", SCRIPT_MODES, "as-published")
    traditional: Traditional | None = None
    if "traditional" in t.data:
        traditional = t.choice("traditional", TRADITIONAL, "standard")
    ktp: bool | None = None
    if "keep_tracking_params" in t.data:
        ktp = t.flag("keep_tracking_params", False)
    extra: dict[str, Any] = {}
    if kind == "dw":
        language = t.text("language", "zh").strip().lower()
        if not re.fullmatch(r"[a-z]{2,4}(-[a-z0-9]{2,4})?", language):
            t.fail("language", f"{language!r} is not a DW language code such as zh or zh-hant")
        url = _http_url(t, "feed_url", t.text("feed_url", dw_feed_url(language)))
        site = _http_url(t, "site_url", t.text("site_url", DW_SITE)).rstrip("/")
        extra = dict(
            language=language, site_url=site, image_format=t.number("image_format", 605, minimum=1)
        )
    else:
        url = _http_url(t, "url", t.text("url", required=True))
        extra = dict(
            fulltext=t.choice("fulltext", FULLTEXT_MODES, "feed"),
            extractor=t.choice("extractor", EXTRACTORS, "auto"),
        )
    t.done()
    return SourceSettings(
        id=sid,
        name=name,
        kind=kind,
        url=url,
        enabled=enabled,
        keep_tracking_params=ktp,
        images=images,
        script=script,
        traditional=traditional,
        **extra,
    )


def parse_settings(data: dict[str, Any], path: Path) -> Settings:
    """Validate an already-parsed TOML document that was read from ``path``."""
    root = _Table(data, "", path)
    base = path.parent

    a = root.table("archive")
    archive = ArchiveSettings(
        path=(base / a.text("path", "archive")).resolve(),
        layout=a.choice("layout", LAYOUTS, "dated"),
        keep_tracking_params=a.flag("keep_tracking_params", False),
        list_size=a.number("list_size", 300, minimum=1),
        fsync=a.flag("fsync", True),
        # Each worker is a process of ~50 MB: a typo of a few zeros must not start thousands.
        processes=a.number("processes", 0, maximum=256) if "processes" in a.data else None,
    )
    a.done()

    n = root.table("network")
    d = NetworkSettings()
    network = NetworkSettings(
        allow_private_networks=n.flag("allow_private_networks", d.allow_private_networks),
        timeout=n.duration("timeout", d.timeout),
        connect_timeout=n.duration("connect_timeout", d.connect_timeout),
        max_response_bytes=n.number("max_response_bytes", d.max_response_bytes, minimum=1024),
        max_redirects=n.number("max_redirects", d.max_redirects),
        concurrency=n.number("concurrency", d.concurrency, minimum=1),
        per_host_concurrency=n.number("per_host_concurrency", d.per_host_concurrency, minimum=1),
        per_host_delay=n.duration("per_host_delay", d.per_host_delay, allow_zero=True),
        user_agent=n.text("user_agent", d.user_agent) or d.user_agent,
        retries=n.number("retries", d.retries),
        retry_delay=n.duration("retry_delay", d.retry_delay, allow_zero=True),
        max_retry_wait=n.duration("max_retry_wait", d.max_retry_wait, allow_zero=True),
    )
    n.done()

    p = root.table("publish")
    g = p.table("git")
    git = GitSettings(
        enabled=g.flag("enabled", False),
        remotes=_remotes(g),
        branch=g.text("branch") or None,
    )
    g.done()
    p.done()

    im = root.table("images")
    proxies = im.str_list("proxies") if "proxies" in im.data else DEFAULT_PROXIES
    for i, template in enumerate(proxies):
        if not template.lower().startswith(("http://", "https://")) or not (
            "{url}" in template or "{url_noscheme}" in template
        ):
            im.fail(
                f"proxies[{i}]",
                f"{template!r} must be an http(s) URL with {{url}} or {{url_noscheme}} in it",
            )
    types = im.str_list("types") if "types" in im.data else IMAGE_TYPES
    for i, kind in enumerate(types):
        if kind not in IMAGE_TYPES:
            im.fail(f"types[{i}]", f"{kind!r} is not one of {', '.join(IMAGE_TYPES)}")
    d_im = ImageSettings()
    images_settings = ImageSettings(
        mode=im.choice("mode", IMAGE_MODES, "proxy"),
        proxies=proxies,
        max_bytes=im.number("max_bytes", d_im.max_bytes, minimum=1024),
        types=types,
        max_attempts=im.number("max_attempts", d_im.max_attempts, minimum=1),
        repository=(base / im.text("repository")).resolve() if im.text("repository") else None,
        repository_url=im.text("repository_url"),
    )
    if images_settings.repository is not None:
        if images_settings.repository.is_relative_to(archive.path):
            im.fail("repository", "is inside the archive: the image repository sits beside it")
        url = _http_url(im, "repository_url", images_settings.repository_url)
        images_settings = replace(images_settings, repository_url=url.rstrip("/") + "/")
    if images_settings.mode == "proxy" and not proxies:
        im.fail("proxies", 'is empty, but mode = "proxy" needs at least one template')
    im.done()

    sc = root.table("script")
    script = sc.choice("mode", SCRIPT_MODES, "as-published")
    traditional = sc.choice("traditional", TRADITIONAL, "standard")
    sc.done()

    lk = root.table("links")
    links = lk.choice("mode", LINK_MODES, "archive")
    lk.done()

    sz = root.table("sanitize")
    iframe_hosts = (
        tuple(h.strip().lower() for h in sz.str_list("iframe_hosts"))
        if "iframe_hosts" in sz.data
        else Settings.__dataclass_fields__["iframe_hosts"].default
    )
    sz.done()

    h = root.table("health")
    webhook = h.text("webhook", "").strip()
    if webhook:
        webhook = _http_url(h, "webhook", webhook)
    health = HealthSettings(
        max_failing=h.duration("max_failing", 86400.0),
        max_silence=h.duration("max_silence", 2 * 86400.0),
        webhook=webhook,
    )
    h.done()

    st = root.table("site")
    base_url = st.text("base_url", "").strip()
    if base_url:
        base_url = _http_url(st, "base_url", base_url).rstrip("/") + "/"
    site = SiteSettings(
        path=(base / st.text("path", "public")).resolve(),
        base_url=base_url,
        title=st.text("title", "newsmirror").strip() or "newsmirror",
        page_size=st.number("page_size", 50, minimum=1),
        feed_size=st.number("feed_size", 50, minimum=1),
        home_size=st.number("home_size", 10, minimum=1),
        pagefind=st.flag("pagefind", True),
    )
    if site.path == archive.path or archive.path in site.path.parents:
        st.fail("path", f"{site.path} must be outside the archive folder {archive.path}")
    st.done()

    s = root.table("schedule")
    interval = s.duration("every", 3600.0)
    s.done()

    w = root.table("watch")
    d_w = WatchSettings()
    intervals = d_w.intervals
    if "intervals" in w.data:
        try:
            intervals = tuple(parse_duration(v) for v in w.str_list("intervals"))
        except ValueError as e:
            w.fail("intervals", str(e))
        if not intervals or not all(0 < x <= MAX_DURATION for x in intervals):
            w.fail("intervals", 'must be a non-empty list of durations such as ["1h", "1d"]')
    watch = WatchSettings(
        enabled=w.flag("enabled", False),
        intervals=intervals,
        horizon=w.duration("horizon", d_w.horizon),
        budget=w.number("budget", d_w.budget),
        confirm=w.number("confirm", d_w.confirm, minimum=1, maximum=100),
        save_page_now=w.flag("save_page_now", False),
        save_page_now_url=_http_url(
            w, "save_page_now_url", w.text("save_page_now_url", d_w.save_page_now_url)
        ),
    )
    w.done()

    b = root.table("bundles")
    periods = b.str_list("periods")
    for i, kind in enumerate(periods):
        if kind not in ("day", "week", "month"):
            b.fail(f"periods[{i}]", f"{kind!r} is not one of day, week, month")
    d_b = BundleSettings()
    formats = b.str_list("formats") if "formats" in b.data else d_b.formats
    for i, fmt in enumerate(formats):
        if fmt not in ("epub", "html"):
            b.fail(f"formats[{i}]", f"{fmt!r} is not one of epub, html")
    bundles = BundleSettings(
        periods=tuple(dict.fromkeys(periods)),
        formats=tuple(dict.fromkeys(formats)),
        max_size=b.number("max_size", d_b.max_size, minimum=10_000, maximum=2**62),
        archive=b.flag("archive", False),
    )
    b.done()

    rotate = _rotate(root.table("rotate"), archive.path, base)

    ct = root.table("catalog")
    catalog_url = ct.text("url").strip()
    if catalog_url and not catalog_url.lower().startswith(("postgresql://", "postgres://")):
        ct.fail(
            "url",
            f"must be a postgresql:// URL (empty: SQLite in the archive), got "
            f"{catalog_url.split('@')[-1]!r}",
        )
    ct.done()

    root.used.add("sources")
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list):
        root.fail("sources", "must be an array of tables ([[sources]])")
    sources = [_source(_Table(item, f"sources[{i}]", path)) for i, item in enumerate(raw_sources)]
    if not sources:
        root.fail("sources", "no [[sources]] given: there would be nothing to mirror")
    seen: set[str] = set()
    for i, src in enumerate(sources):
        if src.id in seen:
            root.fail(f"sources[{i}].id", f"duplicate id {src.id!r}")
        seen.add(src.id)
    root.done()
    return Settings(
        config_path=path,
        archive=archive,
        network=network,
        git=git,
        sources=tuple(sources),
        site=site,
        interval=interval,
        images=images_settings,
        health=health,
        watch=watch,
        bundles=bundles,
        rotate=rotate,
        script=script,
        traditional=traditional,
        links=links,
        catalog_url=catalog_url,
        iframe_hosts=iframe_hosts,  # type: ignore[arg-type]
    )


def load(path: Path) -> Settings:
    """Read and validate the config file at ``path``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file (run `newsmirror init` to write one)"
        ) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from e
    return parse_settings(data, path.resolve())
