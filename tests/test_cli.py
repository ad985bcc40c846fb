"""The command as an operator runs it: a real subprocess, not a terminal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from . import feeds, outlets
from .fakeserver import FakeServer
from .test_dw import rdf

EXE = [sys.executable, "-m", "newsmirror"]


def nm(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EXE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def _point_at(server: FakeServer, cfg: Path) -> None:
    text = cfg.read_text(encoding="utf-8")
    text = text.replace("allow_private_networks = false", "allow_private_networks = true")
    text = text.replace("https://www.rfa.org/mandarin/rss2.xml", server.url("/rfa.xml"))
    text = text.replace("https://chinadigitaltimes.net/chinese/feed/", server.url("/cdt.xml"))
    # The full-text outlets: their extractors by name (the fake's host says nothing), a
    # page for each item (RFA and CDT items in these tests are short, so "auto" fetches).
    pages = {"rfa": outlets.rfa_page(), "cdt": outlets.cdt_page()}
    pages.update(bbc=outlets.bbc_page(1, 2), rfi=outlets.rfi_page(), nyt=outlets.nyt_page())
    for name, url in (
        ("bbc", "https://feeds.bbci.co.uk/zhongwen/simp/rss.xml"),
        ("rfi", "https://www.rfi.fr/cn/rss"),
        ("nyt", "https://cn.nytimes.com/rss/"),
        ("rfa", server.url("/rfa.xml")),
        ("cdt", server.url("/cdt.xml")),
    ):
        text = text.replace(
            f'url = "{url}"\n', f'url = "{server.url(f"/{name}.xml")}"\nextractor = "{name}"\n'
        )
        for i in range(4):
            server.routes[f"/{name}/a/{i}"] = pages[name]
    for name in ("bbc", "rfi", "nyt"):
        server.routes[f"/{name}.xml"] = feeds.rss(feeds.items(1, prefix=server.url(f"/{name}/a/")))
    for lang in ("zh", "zh-hant"):
        text = text.replace(
            f'language = "{lang}"\n',
            f'language = "{lang}"\nfeed_url = "{server.url("/dw-" + lang)}"\n'
            f'site_url = "{server.url("")}"\n',
        )
        server.routes[f"/dw-{lang}"] = rdf([(1, "a", "2026-11-21T08:00:00Z")])
        server.routes[f"/graph-api/{lang}/content/article/1"] = json.dumps(
            {
                "data": {
                    "content": {
                        "id": 1,
                        "title": f"DW {lang}",
                        "text": "<p>x</p>",
                        "canonicalUrl": f"https://www.dw.com/{lang}/a/a-1",
                        "firstPublicationDate": "2026-11-21T08:00:00Z",
                    }
                }
            }
        ).encode()
    cfg.write_text(text, encoding="utf-8")


def test_init_update_status(tmp_path: Path, server: FakeServer) -> None:
    r = nm(tmp_path, "init")
    assert r.returncode == 0, r.stderr
    cfg = tmp_path / "newsmirror.toml"
    assert "[[sources]]" in cfg.read_text() and (tmp_path / "archive/.git").is_dir()
    assert nm(tmp_path, "init").returncode == 1  # never overwrites silently
    _point_at(server, cfg)
    server.routes["/rfa.xml"] = feeds.rss(feeds.items(3, prefix=server.url("/rfa/a/")))
    server.routes["/cdt.xml"] = feeds.rss(feeds.items(2, prefix=server.url("/cdt/a/")))
    r = nm(tmp_path, "update")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "10 new, 0 updated, 7 sources ok, 0 failed; commit" in r.stdout
    assert len(list((tmp_path / "archive/articles").rglob("*.md"))) == 10
    bbc = next((tmp_path / "archive/articles/bbc").rglob("*.md")).read_text(encoding="utf-8")
    assert outlets.CAP1 in bbc and outlets.P3 in bbc  # the page's article, not the teaser
    assert (tmp_path / "archive/articles/dw-hant").is_dir()
    r = nm(tmp_path, "status")
    assert r.returncode == 0, r.stderr
    assert "rfa" in r.stdout and "cdt" in r.stdout and "dw-hant" in r.stdout and "│ 3" in r.stdout
    # The archive's size: files on disk, git's objects, largest sources, growth per month.
    on_disk = sum(p.stat().st_size for p in (tmp_path / "archive/articles").rglob("*.md"))
    from newsmirror.sizes import human

    assert f"size: 10 article files {human(on_disk)} · 0 image copies 0 B · git objects" in r.stdout
    assert re.search(r"largest sources: rfa [\d.]+ [KM]?B · ", r.stdout), r.stdout
    assert re.search(rf"growth per month: \d{{4}}-\d\d {re.escape(human(on_disk))}\n", r.stdout)


def test_failed_source_gives_exit_2_and_names_it(tmp_path: Path, server: FakeServer) -> None:
    assert nm(tmp_path, "init").returncode == 0
    _point_at(server, tmp_path / "newsmirror.toml")
    server.routes["/rfa.xml"] = feeds.rss(feeds.items(1, prefix=server.url("/rfa/a/")))
    r = nm(tmp_path, "update")
    assert r.returncode == 2
    assert "FAILED cdt:" in r.stdout and "/cdt.xml: HTTP 404" in r.stdout
    assert "6 new, 0 updated, 6 sources ok, 1 failed" in r.stdout


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "newsmirror.toml").write_text('[archive]\nlayout = "x"\n', encoding="utf-8")
    r = nm(tmp_path, "update")
    assert r.returncode == 1
    assert "newsmirror.toml: archive.layout: must be one of 'dated', 'duty-machine'" in r.stderr
    r = nm(tmp_path, "--config", "elsewhere.toml", "status")
    assert r.returncode == 1 and "elsewhere.toml: no such config file" in r.stderr


def test_run_repeats_and_stops_cleanly_on_ctrl_c(tmp_path: Path, server: FakeServer) -> None:
    assert nm(tmp_path, "init").returncode == 0
    _point_at(server, tmp_path / "newsmirror.toml")
    server.routes["/rfa.xml"] = feeds.rss(feeds.items(2, prefix=server.url("/rfa/a/")))
    server.routes["/cdt.xml"] = feeds.rss(feeds.items(1, prefix=server.url("/cdt/a/")))
    p = subprocess.Popen(
        [*EXE, "run", "--every", "1s", "--jitter", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(server.hits("/rfa.xml")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(server.hits("/rfa.xml")) >= 2, "run did not repeat"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, err
    assert "8 new" in out and "Traceback" not in err
    assert len(list((tmp_path / "archive/articles").rglob("*.md"))) == 8
    assert not list((tmp_path / "archive").rglob("*.tmp"))


def test_plain_output_is_one_line_per_event(tmp_path: Path, server: FakeServer) -> None:
    assert nm(tmp_path, "init").returncode == 0
    _point_at(server, tmp_path / "newsmirror.toml")
    long_path = "/" + "x" * 150 + ".xml"
    cfg = tmp_path / "newsmirror.toml"
    cfg.write_text(cfg.read_text().replace("/cdt.xml", long_path))
    r = subprocess.run(
        [*EXE, "update"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
    )
    (line,) = [x for x in r.stdout.splitlines() if x.startswith("FAILED cdt:")]
    assert line.endswith(f"{long_path}: HTTP 404 Not Found")


def test_text_from_outside_is_printed_literally(tmp_path: Path, server: FakeServer) -> None:
    """Square brackets (rich markup) and control characters in URLs, titles, links and
    errors are printed as they are, on a terminal and off it, by every command."""
    (tmp_path / "newsmirror.toml").write_text(
        '[archive]\npath = "site"\n[network]\nallow_private_networks = true\n'
        "[publish.git]\nenabled = false\n"
        f'[[sources]]\nid = "ok"\nname = "好[b]"\nurl = "{server.url("/ok.xml")}"\n'
        f'[[sources]]\nid = "bad"\nname = "坏"\nurl = "{server.url("/gone[/b].xml")}"\n',
        encoding="utf-8",
    )
    items = feeds.items(2, prefix="https://x.example/[/red]")
    items[0].title = "标题 [/b][bold] \x1b[2J 完"
    doc = feeds.rss(items).replace(
        b"</channel>", b"<item><title>t</title><link>javascript:[/i]</link></item></channel>"
    )
    server.routes["/ok.xml"] = doc
    for env in ({}, {"TTY_COMPATIBLE": "1"}):
        for args, codes in (
            (("update", "--force"), {2}),
            (("status",), {0, 3}),
            (("search", "标题"), {0}),
            (("search", "[/b]"), {0, 1}),
        ):
            r = subprocess.run(
                [*EXE, *args],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "COLUMNS": "300", **env},
            )
            assert r.returncode in codes, (args, env, r.stdout, r.stderr)
            assert "Traceback" not in r.stderr and "MarkupError" not in r.stderr, r.stderr
            out = r.stdout + r.stderr
            if args[0] == "update":
                assert "/gone[/b].xml" in out
                if not env:  # the first pass; the second gets a 304 for the feed
                    assert "javascript:[/i]" in out
            if args == ("search", "标题"):
                assert "[/b][bold]" in out
                if not env:
                    assert "\x1b" not in out


def test_operator_details(tmp_path: Path, server: FakeServer) -> None:
    """Each failure once, times with their zone, an unknown source and a config without
    sources said plainly."""
    (tmp_path / "newsmirror.toml").write_text("[archive]\npath = 'site'\n", encoding="utf-8")
    r = nm(tmp_path, "update")
    assert r.returncode == 1 and "no [[sources]] given" in r.stderr
    (tmp_path / "newsmirror.toml").write_text(
        "[archive]\npath = 'site'\n[network]\nallow_private_networks = true\n"
        f'[[sources]]\nid = "ok"\nname = "好"\nurl = "{server.url("/ok.xml")}"\n'
        f'[[sources]]\nid = "bad"\nname = "坏"\nurl = "{server.url("/gone.xml")}"\n',
        encoding="utf-8",
    )
    server.routes["/ok.xml"] = feeds.rss(feeds.items(1)).replace(
        b"</channel>", b"<item><title>t</title><link>ftp://x.example/1</link></item></channel>"
    )
    r = nm(tmp_path, "update")
    assert r.returncode == 2
    both = r.stdout + r.stderr
    assert both.count("/gone.xml: HTTP 404") == 1, both
    assert both.count("item failed ok: ftp://x.example/1") == 1, both
    assert "404" not in r.stderr and "ftp:" not in r.stderr
    r = nm(tmp_path, "status")
    assert " UTC" in r.stdout
    r = nm(tmp_path, "search", "-s", "nosuch", "新闻")
    assert r.returncode == 1 and "no source 'nosuch'" in r.stderr


def test_verbose_shows_each_request(tmp_path: Path, server: FakeServer) -> None:
    (tmp_path / "newsmirror.toml").write_text(
        "[archive]\npath = 'site'\n[network]\nallow_private_networks = true\n"
        f'[[sources]]\nid = "ok"\nname = "好"\nurl = "{server.url("/ok.xml")}"\n',
        encoding="utf-8",
    )
    server.routes["/ok.xml"] = feeds.rss(feeds.items(1))
    nm(tmp_path, "update")
    r = nm(tmp_path, "-v", "update", "--force")
    assert re.search(
        r"GET http://127\.0\.0\.1:\d+/ok\.xml -> 304, 0 bytes, \d+ ms \(conditional\)", r.stderr
    )


# Text that rich would read as markup, or a terminal as commands: brackets, tag names,
# escapes, bells, line breaks, Chinese.
_OUTSIDE = st.lists(
    st.sampled_from([*"[]/\\bold red:=#@ 中文\x1b\x07\r\n\t", "[/b]", "[link=x]", "[bold]"]),
    max_size=25,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    source=_OUTSIDE,
    where=_OUTSIDE,
    reason=_OUTSIDE,
    error=_OUTSIDE,
    remote=_OUTSIDE,
    tty=st.booleans(),
)
def test_any_outside_text_is_printed_literally(
    source: str, where: str, reason: str, error: str, remote: str, tty: bool
) -> None:
    """What `update` and `run` print after a pass, and the error printer, never interpret
    what a feed, a server, an error or the config says: every value appears as it is
    (less control characters), on a terminal and off it."""
    from io import StringIO

    from rich.console import Console

    from newsmirror import cli, cli_common
    from newsmirror.errors import ConfigError
    from newsmirror.model import ItemError, one_line
    from newsmirror.report import SourceReport, UpdateReport

    out = StringIO()
    fake = Console(file=out, force_terminal=tty, width=400, highlight=False, markup=False)
    report = UpdateReport(
        sources=[
            SourceReport(
                id=source,
                name=source,
                error=error,
                item_errors=[ItemError(source=source, where=where, reason=reason)],
            )
        ],
        publish_errors={remote: error},
    )
    modules = (cli, cli_common)  # each command module holds the consoles by name
    saved = [(m.console, m.err_console) for m in modules]
    for m in modules:
        m.console = m.err_console = fake
    try:
        cli._print_report(report)
        with pytest.raises(SystemExit):
            cli_common.fail(ConfigError(reason))
    finally:
        for m, (out_console, err) in zip(modules, saved, strict=True):
            m.console, m.err_console = out_console, err
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # rich's own styling, on a terminal
    flat = " ".join(text.split())
    for value in (source, where, error, remote, reason):
        shown = " ".join(one_line(value).split())
        assert shown in flat, (value, text)
