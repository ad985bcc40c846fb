"""The built site in real headless Chromium: home -> source -> article, a Chinese search
with the static index, screenshots of each step, and no request to a third party.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); skipped
without them, except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from newsmirror.config import load
from newsmirror.report import UpdateReport
from newsmirror.store.catalog import Catalog
from newsmirror.store.search import SearchIndex, normalize

from .fakeserver import FakeServer
from .test_site import build, site  # noqa: F401 (the fixture)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        if os.environ.get("CI"):
            pytest.fail(f"headless Chromium is required under CI: {CHROMIUM}, {DRIVER} missing")
        pytest.skip("chromium and chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=420,900",  # a phone
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def served(site: tuple[Path, Any]) -> Iterator[tuple[str, Path]]:  # noqa: F811
    cfg, _items = site
    report = build(cfg, pagefind=True)
    assert not report.errors and report.bundles
    root = cfg.parent / "public"
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("NEWSMIRROR_SCREENSHOTS", tmp_path / "screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _third_party(driver: Any, base: str) -> list[str]:
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    own = urlsplit(base).netloc
    return [
        u
        for u in urls
        if not u.startswith("data:") and urlsplit(u).netloc not in (own, "images.weserv.nl")
    ]


def test_reader_navigates_and_searches(
    browser: Any,
    served: tuple[str, Path],
    tmp_path: Path,
    server: FakeServer,
    run_update: Callable[[Path], UpdateReport],
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, _root = served
    shots = _shots(tmp_path)
    wait = WebDriverWait(browser, 20)

    browser.get(f"{base}/index.html")
    assert browser.find_element(By.CSS_SELECTOR, "header .site").text == "newsmirror"
    heading = browser.find_element(By.CSS_SELECTOR, "section.source h2 a")
    assert heading.text == "新闻"
    browser.save_screenshot(str(shots / "1-home.png"))
    assert not _third_party(browser, base)

    heading.click()
    wait.until(ec.title_contains("新闻"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "新闻"
    assert "共 6 篇" in browser.find_element(By.CSS_SELECTOR, "p.intro").text
    browser.save_screenshot(str(shots / "2-source.png"))
    # the oldest article is on the source's first page
    browser.find_element(By.CSS_SELECTOR, "section.archive").find_element(By.LINK_TEXT, "1").click()
    wait.until(ec.title_contains("第 1 页"))
    browser.find_element(By.LINK_TEXT, "美中重啟氣候對話").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "article h1")))
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text == "美中重啟氣候對話"
    body = browser.find_element(By.CSS_SELECTOR, "article .body").text
    assert "願與中國重啟對話" in body and "会谈推迟" in body
    # readable on a phone: nothing wider than the window
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= browser.execute_script("return window.innerWidth")
    browser.save_screenshot(str(shots / "3-article.png"))
    assert not _third_party(browser, base)

    browser.find_element(By.LINK_TEXT, "简体中文").click()
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "article h1"), "对话"))

    # the static index holds both scripts of a "both" source: each query finds its own
    for query, title in (("对话", "美中重启气候对话"), ("對話", "美中重啟氣候對話")):
        browser.get(f"{base}/search.html?q={quote(query)}")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".pagefind-ui__result-link")))
        links = browser.find_elements(By.CSS_SELECTOR, ".pagefind-ui__result-link")
        assert title in [e.text for e in links], [e.text for e in links]
        assert "气候大会即将召开" not in [e.text for e in links]
        # one search box on the page; each result names its source and date
        boxes = browser.find_elements(By.CSS_SELECTOR, "input[type=search], input[type=text]")
        assert len([b for b in boxes if b.is_displayed()]) == 1, [
            b.get_attribute("class") for b in boxes
        ]
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".result-meta")))
        metas = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".result-meta")]
        assert metas and all(re.fullmatch(r"\S.* · \d{4}-\d\d-\d\d \d\d:\d\d", m) for m in metas), (
            metas
        )
    browser.save_screenshot(str(shots / "4-search.png"))
    assert not _third_party(browser, base)
    next(e for e in links if e.text == "美中重啟氣候對話").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "article h1")))
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text == "美中重啟氣候對話"

    # The static search finds what the live search finds: one character inside longer
    # words, pairs only where the pair stands, either script, words that are not Chinese.
    settings = load(next(_root.parent.glob("*.toml")))
    catalog = Catalog(settings.catalog, create=False)
    try:
        index = SearchIndex(catalog)
        index.sync()
        for query in ("会", "对话", "對話", "气候", "会谈", "推迟"):
            live = {normalize(h.title) for h in index.search(query, limit=100)[0]}
            assert live, query
            browser.get(f"{base}/search.html?q={quote(query)}")
            wait.until(
                ec.presence_of_element_located((By.CSS_SELECTOR, ".pagefind-ui__result-link"))
            )
            while more := browser.find_elements(By.CSS_SELECTOR, ".pagefind-ui__button"):
                more[0].click()
            links = browser.find_elements(By.CSS_SELECTOR, ".pagefind-ui__result-link")
            found = {normalize(e.text) for e in links}
            assert found == live, (query, found, live)
    finally:
        catalog.close()
    browser.get(f"{base}/search.html?q={quote('对话')}")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".pagefind-ui__result-link")))
    links = browser.find_elements(By.CSS_SELECTOR, ".pagefind-ui__result-link")
    next(e for e in links if e.text == "美中重啟氣候對話").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "article h1")))
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text == "美中重啟氣候對話"
    for name in ("1-home", "2-source", "3-article", "4-search"):
        assert (shots / f"{name}.png").stat().st_size > 1000


def test_reader_sees_what_an_outlet_changed(
    browser: Any, served: tuple[str, Path], tmp_path: Path
) -> None:
    """The site's change list, an edit's diff at phone width, the article's history line."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, _root = served
    shots = _shots(tmp_path)
    wait = WebDriverWait(browser, 20)
    browser.get(f"{base}/index.html")
    browser.find_element(By.LINK_TEXT, "修改与删除").click()
    wait.until(ec.title_contains("修改与删除"))
    (entry,) = browser.find_elements(By.CSS_SELECTOR, "ul.changes li")
    assert "修改（正文）" in entry.text and "美中重啟氣候對話" in entry.text
    browser.save_screenshot(str(shots / "5-changes.png"))
    entry.find_element(By.LINK_TEXT, "对比").click()
    wait.until(ec.title_contains("修改对比"))
    inserted = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".diff ins")]
    assert any("會談推遲" in t or "会谈推迟" in t for t in inserted), inserted
    assert not browser.find_elements(By.CSS_SELECTOR, ".diff .body del")
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= browser.execute_script("return window.innerWidth")
    browser.save_screenshot(str(shots / "6-diff.png"))
    assert not _third_party(browser, base)
    browser.find_element(By.LINK_TEXT, "存档").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "article h1")))
    note = browser.find_element(By.CSS_SELECTOR, "p.changes-note").text
    assert note.startswith("修改 1 次"), note
