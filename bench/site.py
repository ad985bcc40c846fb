"""Benchmark: static site builds and catalog search over synthetic archives.

Writes N synthetic articles (10 sources over a year, ~1,500 characters of Chinese each, a
tenth in Traditional script) straight into an archive and its catalog, then measures:

- a full site build (pages and feeds; the Pagefind step timed separately),
- a second build with nothing changed, and an incremental build after 10 new articles,
  both without and with the static search step (one month bundle re-indexed),
- indexing the catalog for search, and query latency (p50/p95) over a mix of queries:
  one-, two- and four-character words, Traditional, Latin, OR, exclusion.

With ``--postgresql`` the catalog is a database of a throw-away PostgreSQL server started
for the run (``tests/pgcluster.py``, durability on), and its size is PostgreSQL's.

Prints figures; asserts nothing.

    python bench/site.py [--articles 10000 100000] [--workdir /dev/shm] [--pagefind]
    python bench/site.py --articles 100000 300000 --search-only --postgresql
"""

from __future__ import annotations

import argparse
import contextlib
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from newsmirror.config import load
from newsmirror.model import Article
from newsmirror.publish.site import SiteBuilder
from newsmirror.render.markdown import file_hash, render_article
from newsmirror.store.catalog import Catalog
from newsmirror.store.files import ArchiveWriter
from newsmirror.store.search import SearchIndex
from newsmirror.transform.script import config_for, convert_html

WORDS = (
    "德国之声 柏林 政府 周三 宣布 经济 增长 议会 辩论 法案 气候 峰会 谈判 合作 记者 报道 "
    "中国 美国 欧洲 外交 部长 表示 认为 问题 发展 国家 地区 人民 社会 安全 新闻 自由 "
    "对话 香港 台湾 选举 法院 判决 抗议 警察 疫情 医院 学生 大学 工厂 工人 农民 市场 "
    "股市 银行 利率 通胀 能源 石油 天然气 电动车 芯片 出口 关税 制裁 军队 演习 导弹 "
    "联合国 人权 律师 网络 审查 媒体 电视 互联网 手机 公司 投资 企业 官员 腐败 调查"
).split()
LATIN = "Trump Biden Xi NATO COVID EU G20 WHO Tesla Huawei".split()
DAY_MS = 86_400_000
START_MS = 1_735_689_600_000  # 2025-01-01


CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研"
_vocab_rng = random.Random(7)
# A Zipf-like vocabulary: the news words first (common), then 6,000 made-up words.
VOCAB = WORDS + [
    "".join(_vocab_rng.choice(CHARS) for _ in range(_vocab_rng.choice((2, 2, 2, 3, 4))))
    for _ in range(6000)
]
CUM: list[float] = []
_acc = 0.0
for _rank in range(len(VOCAB)):
    _acc += 1.0 / (_rank + 8)
    CUM.append(_acc)


QUERIES = [
    "对话",
    "對話",
    "会",
    "中",
    "气候谈判",
    "联合国人权",
    "芯片 出口",
    "香港 -台湾",
    "选举 OR 判决",
    "nato",
    "德国之声",
    "腐败调查",
    "电动车",
    "審查",
    '"经济 增长"',
    "tesla",
    *VOCAB[len(WORDS) + 100 : len(WORDS) + 103],  # rarer made-up words
    *VOCAB[len(WORDS) + 3000 : len(WORDS) + 3003],
]


def text(rng: random.Random, n: int) -> str:
    words = rng.choices(VOCAB, cum_weights=CUM, k=n // 2)
    for k in range(0, len(words), 9):
        words[k] += "，"
    if rng.random() < 0.3:
        words[rng.randrange(len(words))] += f" {rng.choice(LATIN)} "
    return "".join(words)[:n]


def article(rng: random.Random, i: int, sources: int, span_days: int) -> Article:
    date = START_MS + int(i / max(1, n_total) * span_days * DAY_MS) + rng.randrange(3_600_000)
    body = "".join(f"<p>{text(rng, 300)}。</p>" for _ in range(5))
    title = text(rng, 16)
    if i % 10 == 0:
        body, title = convert_html(body, config_for("hant")), convert_html(title, "s2t")
    src = f"s{i % sources}"
    return Article(
        source=src,
        ident=f"id:{i}",
        key=f"k{i}",
        url=f"https://news.example.org/{src}/{i}",
        title=title,
        date_ms=date,
        body=body,
        canonical=f"https://news.example.org/{src}/{i}",
    )


n_total = 0


def populate(work: Path, first: int, count: int, sources: int, now_ms: int) -> None:
    settings = load(work / "newsmirror.toml")
    writer = ArchiveWriter(settings.archive.path, fsync=False)
    writer.clear_temps()
    catalog = Catalog(settings.catalog)
    rng = random.Random(first)
    files, rows = [], []
    for i in range(first, first + count):
        a = article(rng, i, sources, 365)
        path = f"articles/{a.source}/{time.strftime('%Y-%m-%d', time.gmtime(a.date_ms / 1000))}/{a.key}.md"
        data = render_article(a, path)
        files.append((path, data))
        rows.append((a, path, file_hash(data)))
    writer.write_batch(files)
    with catalog.transaction():
        for s in range(sources):
            catalog.ensure_source(f"s{s}", f"来源 {s}", f"https://news.example.org/s{s}.xml")
        for a, path, h in rows:
            catalog.add_article(a, path, None, h, now_ms)
    catalog.close()


POSTGRES: list[object] = []  # the cluster, when the catalog is in PostgreSQL


@contextlib.contextmanager
def postgres(on: bool) -> Iterator[None]:
    """A throw-away PostgreSQL server for the run (when ``on``)."""
    if not on:
        yield
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.pgcluster import running

    with running(durable=True) as cluster:
        POSTGRES.append(cluster)
        try:
            yield
        finally:
            POSTGRES.clear()


def config(work: Path, sources: int) -> None:
    lines = ['[archive]\npath = "archive"\n\n[site]\npath = "public"\n']
    lines.append('base_url = "https://mirror.example.org/"\n')
    if POSTGRES:
        url = POSTGRES[0].database()  # type: ignore[attr-defined]
        lines.append(f'\n[catalog]\nurl = "{url}"\n')
    for s in range(sources):
        lines.append(
            f'\n[[sources]]\nid = "s{s}"\nname = "来源 {s}"\nurl = "https://news.example.org/s{s}.xml"\n'
        )
    (work / "newsmirror.toml").write_text("".join(lines), encoding="utf-8")


def timed_build(work: Path, pagefind: bool) -> tuple[float, int, list[str]]:
    settings = load(work / "newsmirror.toml")
    catalog = Catalog(settings.catalog)
    t = time.perf_counter()
    report = SiteBuilder(settings, catalog, pagefind=pagefind).build()
    elapsed = time.perf_counter() - t
    catalog.close()
    assert not report.errors, report.errors[:3]
    return elapsed, report.written, report.bundles


def one(
    n: int, workdir: str | None, pagefind: bool, builds: bool = True, keep: bool = False
) -> None:
    global n_total
    n_total = n
    sources = 10
    work = Path(tempfile.mkdtemp(prefix=f"nm-site-{n}-", dir=workdir))
    try:
        config(work, sources)
        t = time.perf_counter()
        populate(work, 0, n, sources, START_MS + 400 * DAY_MS)
        print(f"\n== {n} articles ({time.perf_counter() - t:.1f} s to write the archive)")

        if not builds:
            search_figures(work, n)
            return
        full, written, _ = timed_build(work, pagefind=False)
        print(
            f"full build, pages and feeds:        {full:7.2f} s  ({written} files, {written / full:.0f}/s)"
        )
        same, written, _ = timed_build(work, pagefind=False)
        print(f"rebuild, nothing changed:           {same:7.2f} s  ({written} files written)")
        n_total = n + 10
        populate(work, n, 10, sources, START_MS + 401 * DAY_MS)
        inc, written, _ = timed_build(work, pagefind=False)
        print(f"incremental, 10 new articles:       {inc:7.2f} s  ({written} files written)")
        if pagefind:
            pf, _w, bundles = timed_build(work, pagefind=True)
            print(f"static search, all {len(bundles)} month bundles: {pf:7.2f} s")
            populate(work, n + 10, 10, sources, START_MS + 402 * DAY_MS)
            inc_pf, written, bundles = timed_build(work, pagefind=True)
            print(
                f"incremental + search, 10 new:       {inc_pf:7.2f} s  "
                f"({written} files, bundles {', '.join(bundles)})"
            )

        search_figures(work, n)
    finally:
        if keep:
            print(f"kept in {work} (measure it again: --again {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


def search_figures(work: Path, n: int) -> None:
    """Index the catalog for search, then time queries and measure the catalog."""
    settings = load(work / "newsmirror.toml")
    catalog = Catalog(settings.catalog)
    index = SearchIndex(catalog)
    t = time.perf_counter()
    indexed = index.sync()
    took = time.perf_counter() - t
    print(f"search index, {indexed} articles:    {took:7.2f} s  ({indexed / took:.0f}/s)")
    for q in QUERIES:  # warm the page cache
        index.search(q)
    lat: list[float] = []
    counts = {}
    each: dict[str, list[float]] = {q: [] for q in QUERIES}
    for _round in range(5):
        for q in QUERIES:
            t = time.perf_counter()
            _hits, total = index.search(q, limit=20)
            lat.append((time.perf_counter() - t) * 1000)
            each[q].append(lat[-1])
            counts[q] = total
    lat.sort()
    p95 = lat[int(len(lat) * 0.95) - 1]
    print(
        f"search latency over {len(lat)} queries: p50 {statistics.median(lat):.1f} ms, "
        f"p95 {p95:.1f} ms, max {lat[-1]:.1f} ms"
    )
    print("  matches: " + ", ".join(f"{q} {c}" for q, c in counts.items()))
    slowest = sorted(each.items(), key=lambda kv: -statistics.median(kv[1]))[:6]
    print(
        "  slowest (median): " + ", ".join(f"{q} {statistics.median(v):.1f} ms" for q, v in slowest)
    )
    if catalog.dialect == "postgresql":
        catalog.db.execute("VACUUM ANALYZE")
        # Each table (with its TOAST) and each index on its own: which one grows.
        tables = catalog.db.execute(
            "SELECT relname, pg_relation_size(oid) "
            "+ coalesce(pg_total_relation_size(nullif(reltoastrelid, 0)), 0) FROM pg_class "
            "WHERE relkind IN ('r', 'i') AND relnamespace = 'public'::regnamespace "
            "ORDER BY 2 DESC LIMIT 12"
        ).fetchall()
        size = catalog.db.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    else:
        tables = catalog.db.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 6"
        ).fetchall()
        size = settings.catalog_path.stat().st_size
    print("  largest: " + ", ".join(f"{n} {b / 2**20:.0f} MiB" for n, b in tables))
    catalog.close()
    db = size / 2**20
    print(
        f"catalog size {db:.0f} MiB ({db * 2**20 / n / 1000:.1f} KB per article); peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--workdir", default=None, help="where to build (e.g. /dev/shm)")
    ap.add_argument("--pagefind", action="store_true", help="also time the static search step")
    ap.add_argument(
        "--search-only", action="store_true", help="skip the site builds (search and sizes only)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the generated archive and catalog")
    ap.add_argument(
        "--postgresql", action="store_true", help="the catalog in a throw-away PostgreSQL server"
    )
    ap.add_argument(
        "--again",
        metavar="DIR",
        help="search figures of an archive kept by --keep (its index brought up to date first)",
    )
    args = ap.parse_args()
    if args.again:
        work = Path(args.again)
        catalog = Catalog(load(work / "newsmirror.toml").catalog)
        n = catalog.db.execute("SELECT count(*) FROM articles").fetchone()[0]
        catalog.close()
        print(f"== {n} articles in {work}")
        search_figures(work, n)
        return
    with postgres(args.postgresql):
        for n in args.articles:
            one(n, args.workdir, args.pagefind, builds=not args.search_only, keep=args.keep)


if __name__ == "__main__":
    main()
