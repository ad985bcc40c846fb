"""A hostile outlet costs its own source or item, never the pass.

Each case serves one hostile source beside a healthy one and runs whole passes with git on:
the healthy source is archived, the lists, README and commit are written, the hostile one
is recorded by name, and a second pass works too (nothing stored poisons later passes).
A Hypothesis test then throws random hostile documents at the same pass.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import resource
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsmirror.report import UpdateReport
from newsmirror.sources import feed as feed_module

from . import feeds
from .conftest import Clock, git, write_config
from .fakeserver import Answer, FakeServer, Request

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")

ACTIVE = re.compile(r"<script|javascript:|\son\w+\s*=|position\s*:\s*fixed", re.I)


def active(text: str) -> str | None:
    """Active content in a Markdown file: a real tag (an unescaped ``<``; ``\\<script\\>``
    is text on GitHub) that is a script, a handler, a ``javascript:`` URL or an overlay, or
    a Markdown link to ``javascript:``."""
    for m in re.finditer(r"(?<!\\)<(?!!--)[^<>]*>?", text):
        if ACTIVE.search(m.group(0)):
            return m.group(0)
    m = re.search(r"\]\(\s*javascript:", text, re.I)
    return m.group(0) if m else None


def _config(tmp_path: Path, server: FakeServer, processes: int | None = None) -> Path:
    server.routes["/good.xml"] = feeds.rss(feeds.items(2, prefix="https://good.example/n/"))
    return write_config(
        tmp_path / "newsmirror.toml",
        [
            {"id": "good", "name": "好", "url": server.url("/good.xml")},
            {"id": "bad", "name": "坏", "url": server.url("/bad.xml")},
        ],
        git=True,
        archive={} if processes is None else {"processes": processes},
    )


def _passes(
    tmp_path: Path,
    server: FakeServer,
    run_update: Callable[[Path], UpdateReport],
    clock: Clock,
    processes: int | None = None,
) -> list[UpdateReport]:
    cfg = _config(tmp_path, server, processes)
    reports = []
    for _ in range(2):
        reports.append(run_update(cfg))
        clock.ms += 2 * 86_400_000  # past any backoff: every source is due again
    site = tmp_path / "site"
    assert (site / "README.md").exists() and (site / "lists/好.md").exists()
    assert git(site, "log", "--format=%s").count("Update") >= 1
    good = next(s for s in reports[0].sources if s.id == "good")
    assert good.new == 2 and good.error is None
    for p in site.rglob("*.md"):
        assert not active(p.read_text(encoding="utf-8")), p
    return reports


def _bad(report: UpdateReport) -> object:
    return next(s for s in report.sources if s.id == "bad")


def test_malformed_redirect_costs_its_source(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    server.routes["/bad.xml"] = lambda _r: Answer(302, b"", {"Location": "http:x"})
    first, second = _passes(tmp_path, server, run_update, clock)
    for r in (first, second):
        assert _bad(r).error  # type: ignore[attr-defined]


def test_far_future_and_ancient_dates(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    doc = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        '<entry><id>u:1</id><title>未来</title><link href="https://bad.example/1"/>'
        "<updated>9999-12-31T20:00:00Z</updated><content>a</content></entry>"
        '<entry><id>u:2</id><title>远古</title><link href="https://bad.example/2"/>'
        "<updated>0001-01-01T00:00:00+14:00</updated><content>b</content></entry></feed>"
    )
    server.routes["/bad.xml"] = doc.encode()
    first, _ = _passes(tmp_path, server, run_update, clock)
    assert _bad(first).new == 2  # type: ignore[attr-defined]
    lists = (tmp_path / "site/lists/坏.md").read_text(encoding="utf-8")
    assert "未来" in lists and "远古" in lists


def test_unsendable_etag_is_not_kept(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    body = feeds.rss(feeds.items(1, prefix="https://bad.example/n/"))

    def answer(req: Request) -> Answer:
        return Answer(200, body, {"ETag": '"\u00e9"', "Last-Modified": "Mon, 01 Jan 2024 \u00e9"})

    server.routes["/bad.xml"] = answer
    first, second = _passes(tmp_path, server, run_update, clock)
    assert _bad(first).error is None and _bad(second).error is None  # type: ignore[attr-defined]
    asked = server.hits("/bad.xml")[-1].headers
    assert "if-none-match" not in asked and "if-modified-since" not in asked


def test_stacked_compression_is_bounded(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    bomb = gzip.compress(gzip.compress(b"<" * (200 << 20), 9), 9)
    assert len(bomb) < 1 << 20
    server.routes["/bad.xml"] = lambda _r: Answer(200, bomb, {"Content-Encoding": "gzip, gzip"})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    first, _ = _passes(tmp_path, server, run_update, clock)
    assert "limit" in (_bad(first).error or "")  # type: ignore[attr-defined]
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 150, grown_mb  # the cap is 15 MB; the bomb was 200 MB


_PARSE = feed_module.parse_feed


def _raising(error: BaseException, raw: bytes, **kw: object) -> object:
    """parse_feed, except that it raises ``error`` for the source "bad".  Module-level (and
    bound with partial), so it can run in a parsing worker process as well as in a thread."""
    if kw.get("source") == "bad":
        raise error
    return _PARSE(raw, **kw)  # type: ignore[arg-type]


def _dying(raw: bytes, **kw: object) -> object:
    """parse_feed, except that the process parsing the source "bad" is killed under it."""
    if kw.get("source") == "bad":
        os.kill(os.getpid(), signal.SIGKILL)
    return _PARSE(raw, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error", [RecursionError("deep"), OverflowError("big"), KeyError("x"), AttributeError("y")]
)
@pytest.mark.parametrize("processes", [0, 2])
def test_any_exception_of_a_driver_is_its_sources(
    tmp_path: Path,
    server: FakeServer,
    run_update,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    processes: int,
) -> None:
    """In a thread or in a worker process, the exception is the source's, named by type."""
    server.routes["/bad.xml"] = feeds.rss(feeds.items(1, prefix="https://bad.example/n/"))
    monkeypatch.setattr(feed_module, "parse_feed", functools.partial(_raising, error))
    first, _ = _passes(tmp_path, server, run_update, clock, processes=processes)
    assert type(error).__name__ in (_bad(first).error or "")  # type: ignore[attr-defined]


def test_a_parsing_process_that_dies_costs_its_source_only(
    tmp_path: Path,
    server: FakeServer,
    run_update,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash in a C parser kills the worker, not the pass: the jobs the dead pool held
    run again, and only the one that kills its process again fails."""
    server.routes["/bad.xml"] = feeds.rss(feeds.items(1, prefix="https://bad.example/n/"))
    monkeypatch.setattr(feed_module, "parse_feed", _dying)
    first, second = _passes(tmp_path, server, run_update, clock, processes=2)
    for report in (first, second):
        assert "worker process died" in (_bad(report).error or "")  # type: ignore[attr-defined]


def test_control_characters_and_line_breaks_in_titles_and_authors(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {
                "id": "1",
                "url": "https://bad.example/1",
                "title": "标题\u0000一\r# 标题二\r\n- 列表\u0008",
                "authors": [{"name": "作者\u001b[31m\n红"}],
                "content_html": "<p>正文&#x8;\u0000</p>",
            }
        ],
    }
    server.routes["/bad.xml"] = json.dumps(doc).encode()
    _passes(tmp_path, server, run_update, clock)
    (f,) = [p for p in (tmp_path / "site/articles/bad").rglob("*.md")]
    text = f.read_text(encoding="utf-8")
    assert text.split("\n")[1].startswith("[标题一 # 标题二 - 列表](")
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", text)


def test_lone_surrogates_from_json_are_kept_as_replacement_characters(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    """JSON may escape half a surrogate pair alone: no text can hold it, so it becomes
    U+FFFD and the article is archived (it was lost, as an encoding error, before)."""
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {
                "id": "1",
                "url": "https://bad.example/1",
                "title": "标题\ud800",
                "authors": [{"name": "作者\udc00"}],
                "content_html": "<p>正文\udfff" + "长" * 300 + "</p>",
            }
        ],
    }
    server.routes["/bad.xml"] = json.dumps(doc).encode()
    first, _second = _passes(tmp_path, server, run_update, clock)
    assert not _bad(first).item_errors  # type: ignore[attr-defined]
    (f,) = [p for p in (tmp_path / "site/articles/bad").rglob("*.md")]
    text = f.read_text(encoding="utf-8")
    assert text.startswith("<!--") and "[标题\ufffd](" in text and "正文\ufffd长" in text


HOSTILE_PIECES = st.sampled_from(
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<p style        ="position:fixed;top:0">x</p>',
        '<blockquote cite="javascript:x">q</blockquote>',
        "&#x8;&#0;\u0000\u001b[2J",
        "\r# heading\r\n- list",
        "<div>" * 700 + "deep" + "</div>" * 700,
        "]]>",
        "&undefined;",
        "<![CDATA[",
        "\ud7ff\ue000\ufffe",
        "[/b][link=x]",
    ]
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    title=st.lists(HOSTILE_PIECES | st.text(max_size=20), max_size=4).map("".join),
    body=st.lists(HOSTILE_PIECES | st.text(max_size=40), max_size=6).map("".join),
    date=st.sampled_from(["9999-12-31T20:00:00Z", "0001-01-01T00:00:00+14:00", "junk", ""]),
    link=st.sampled_from(["https://bad.example/1", "javascript:alert(1)", "http:x", "", "//"]),
)
def test_random_hostile_documents_cost_at_most_their_source(
    tmp_path_factory: pytest.TempPathFactory,
    title: str,
    body: str,
    date: str,
    link: str,
) -> None:
    tmp_path = tmp_path_factory.mktemp("h")
    from newsmirror.config import load
    from newsmirror.pipeline import Updater

    clock = Clock()
    with FakeServer() as server:
        doc = {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [
                {
                    "id": title or "x",
                    "url": link,
                    "title": title,
                    "date_published": date,
                    "content_html": body,
                },
                {"id": "ok", "url": "https://bad.example/ok", "title": "好", "content_html": "b"},
            ],
        }
        server.routes["/bad.xml"] = json.dumps(doc).encode()
        cfg = _config(tmp_path, server)
        for _ in range(2):
            report = Updater(load(cfg), clock=clock).run()
            clock.ms += 2 * 86_400_000
            assert not report.publish_errors
            good = next(s for s in report.sources if s.id == "good")
            assert good.error is None
    site = tmp_path / "site"
    assert (site / "README.md").exists()
    for p in site.rglob("*.md"):
        assert not active(p.read_text(encoding="utf-8")), p
