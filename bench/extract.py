"""Benchmark: quality and speed of the generic page extractor.

1. The 181 pages with human-checked article text in
   ``../shared/benchmarks/article-extraction/``, scored as that benchmark does: 4-word
   shingles of ``\\w+`` tokens, precision and recall per page, averaged, F1 of the
   averages.  Baseline: trafilatura's plain ``extract()`` on the same bytes, same run.
   Our text is the body's paragraphs, sub-heads, lists and tables; captions are scored
   separately (the benchmark's truth leaves them out), and also shown included.
2. The Chinese pages of ``zh_pages.py`` (twelve layouts, GBK/Big5/lying charsets, lazy
   images): text scored on 4-grams of characters (a run of Han characters is one ``\\w+``
   token, so each Han character is a token here), picture recall and precision by URL,
   caption recall (exact text under the right picture).  trafilatura's ``extract()`` is
   the baseline for text, and ``extract(include_images=True)`` for pictures.

Speed: milliseconds per page of the whole extraction (decode, parse, lazy images,
metadata, text, pictures), one process, one core.  Prints figures; asserts nothing.

    python bench/extract.py [--per-template 3] [--repeat 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import trafilatura
from lxml import etree

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import zh_pages

from newsmirror.extract import ExtractError, extract
from newsmirror.extract.blocks import Page
from tests.test_extract_real import BBC_PICTURES, VIDEO_STILL  # the hand labels, kept once

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "benchmarks" / "article-extraction"
WORD = re.compile(r"\w+")
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W\u3400-\u9fff\uf900-\ufaff]+")


def shingles(tokens: list[str], n: int = 4) -> Counter[tuple[str, ...]]:
    """Multiset of ``n``-token shingles."""
    return Counter(tuple(tokens[i : i + n]) for i in range(max(0, len(tokens) - n + 1)))


def pr(truth: list[str], got: list[str]) -> tuple[float, float]:
    """Shingle precision and recall of one page (1.0 when both sides are empty)."""
    a, b = shingles(truth), shingles(got)
    tp = sum((a & b).values())
    fp = sum((b - a).values())
    fn = sum((a - b).values())
    p = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r


def f1_of(pairs: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Averaged precision, recall and the F1 of the averages (the benchmark's figure)."""
    p = statistics.fmean(x for x, _ in pairs)
    r = statistics.fmean(y for _, y in pairs)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def body_text(page: Page | None, captions: bool = False) -> str:
    """The text we would store, one block a line (captions only when asked)."""
    return page.text(captions) if page is not None else ""


def ours(raw: bytes, url: str, ctype: str = "") -> Page | None:
    """The generic extractor; ``None`` when it finds nothing."""
    try:
        return extract(raw, url, ctype, "generic")
    except ExtractError:
        return None


def timed(fn: Callable[[], object], repeat: int) -> tuple[object, float]:
    """Result and best CPU seconds of ``repeat`` calls."""
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        t0 = time.process_time()
        result = fn()
        best = min(best, time.process_time() - t0)
    return result, best


def best_settings(raw: bytes) -> str:
    """trafilatura with its authors' recommended settings for article text."""
    return (
        trafilatura.extract(
            raw,
            fast=False,
            include_comments=False,
            include_tables=True,
            include_formatting=False,
        )
        or ""
    )


def english(repeat: int) -> None:
    truth = json.loads((DATA / "ground-truth.json").read_text())
    rows: dict[str, list[tuple[float, float]]] = {
        "base": [],
        "best": [],
        "ours": [],
        "ours+cap": [],
    }
    t_base, t_best, t_ours = [], [], []
    empty = 0
    for key, item in truth.items():
        raw = gzip.decompress((DATA / "html" / f"{key}.html.gz").read_bytes())
        expected = WORD.findall(item["articleBody"])
        # Interleaved, so the machine's drifting speed touches all three alike.
        base, tb = timed(lambda raw=raw: trafilatura.extract(raw) or "", repeat)
        best, tbest = timed(lambda raw=raw: best_settings(raw), repeat)
        page, to = timed(lambda raw=raw, item=item: ours(raw, item["url"]), repeat)
        t_base.append(tb)
        t_best.append(tbest)
        t_ours.append(to)
        if page is None and str(best).strip():
            empty += 1
        rows["base"].append(pr(expected, WORD.findall(str(base))))
        rows["best"].append(pr(expected, WORD.findall(str(best))))
        rows["ours"].append(pr(expected, WORD.findall(body_text(page))))  # type: ignore[arg-type]
        rows["ours+cap"].append(pr(expected, WORD.findall(body_text(page, True))))  # type: ignore[arg-type]
    print(f"\n## 1. article-extraction benchmark ({len(truth)} pages, 4-word shingles)\n")
    print("| extractor | precision | recall | F1 | ms/page mean | p95 | CPU vs extract() |")
    print("|---|---|---|---|---|---|---|")
    for name, label, times in (
        ("base", "trafilatura extract() (CPU baseline)", t_base),
        ("best", "trafilatura best settings (F1 baseline)", t_best),
        ("ours", "newsmirror generic (text)", t_ours),
        ("ours+cap", "newsmirror generic (text + captions)", t_ours),
    ):
        p, r, f = f1_of(rows[name])
        ms = statistics.fmean(times) * 1000
        p95 = sorted(times)[int(len(times) * 0.95)] * 1000
        ratio = sum(times) / sum(t_base)
        print(f"| {label} | {p:.4f} | {r:.4f} | {f:.4f} | {ms:.1f} | {p95:.1f} | {ratio:.3f} |")
    print(f"\npages where we find nothing and trafilatura finds text: {empty}")


def _trafilatura_images(raw: bytes) -> list[str]:
    out = trafilatura.extract(raw, output_format="xml", include_images=True)
    if not out:
        return []
    root = etree.fromstring(out.encode())
    return [g.get("src") or "" for g in root.iter("graphic")]


def chinese(per_template: int, repeat: int) -> None:
    pages = zh_pages.build(per_template)
    text_rows: dict[str, list[tuple[float, float]]] = {"base": [], "ours": []}
    img = {"truth": 0, "base": 0, "ours": 0, "ours_extra": 0, "base_extra": 0}
    cap = {"truth": 0, "ours": 0}
    times = []
    misses: list[str] = []
    for b in pages:
        expected = HAN.findall(b.text)
        base = trafilatura.extract(b.raw) or ""
        page, t = timed(lambda b=b: ours(b.raw, b.url, b.content_type), repeat)
        times.append(t)
        text_rows["base"].append(pr(expected, HAN.findall(base)))
        text_rows["ours"].append(pr(expected, HAN.findall(body_text(page))))  # type: ignore[arg-type]
        got = {i.src: i.caption for i in (page.images if isinstance(page, Page) else [])}
        base_srcs = set(_trafilatura_images(b.raw))
        truth_srcs = {s for s, _c in b.images}
        img["truth"] += len(truth_srcs)
        img["ours"] += len(truth_srcs & got.keys())
        img["base"] += len(truth_srcs & base_srcs)
        img["ours_extra"] += len(got.keys() - truth_srcs)
        img["base_extra"] += len(base_srcs - truth_srcs)
        for src, caption in b.images:
            if src not in got:
                misses.append(f"{b.name}: picture {src} missing")
            if caption:
                cap["truth"] += 1
                if got.get(src) == caption:
                    cap["ours"] += 1
                elif src in got:
                    misses.append(f"{b.name}: caption {got[src]!r} != {caption!r}")
        for src in got.keys() - truth_srcs:
            misses.append(f"{b.name}: extra picture {src}")
    print(
        f"\n## 2. Chinese pages ({len(pages)} pages, {len(zh_pages.TEMPLATES)} layouts, character 4-grams)\n"
    )
    print(
        "| extractor | precision | recall | F1 | picture recall | picture precision |"
        " extra pictures | caption recall |"
    )
    print("|---|---|---|---|---|---|---|---|")
    p, r, f = f1_of(text_rows["base"])
    print(
        f"| trafilatura extract() (baseline) | {p:.4f} | {r:.4f} | {f:.4f} | "
        f"{img['base'] / img['truth']:.3f} | "
        f"{img['base'] / max(1, img['base'] + img['base_extra']):.3f} | "
        f"{img['base_extra']} | 0 (no captions) |"
    )
    p, r, f = f1_of(text_rows["ours"])
    print(
        f"| newsmirror generic | {p:.4f} | {r:.4f} | {f:.4f} | {img['ours'] / img['truth']:.3f} | "
        f"{img['ours'] / max(1, img['ours'] + img['ours_extra']):.3f} | "
        f"{img['ours_extra']} | {cap['ours'] / cap['truth']:.3f} ({cap['ours']}/{cap['truth']}) |"
    )
    print(f"\npictures in truth: {img['truth']}; ms/page mean {statistics.fmean(times) * 1000:.1f}")
    for line in misses[:20]:
        print("  ", line)


# Hand labels for the real pages in ../shared/fixtures/real/: the article's own pictures
# (by a part of the URL every size of the picture shares) and what each extractor should
# use.  A video's still is neither required nor wrong: it stands in the article at the
# video's place with the video's caption, and an adapter may instead link the video.
REAL = SHARED / "fixtures" / "real"
REAL_PAGES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "bbc-zhongwen-article-2025-11-30.html",
        "https://www.bbc.com/zhongwen/articles/cwyv1yz8yrno/simp",
        ("bbc", "generic"),
        BBC_PICTURES,
        (VIDEO_STILL,),
    ),
    (
        "bbc-zhongwen-video-2025-11-30.html",
        "https://www.bbc.com/zhongwen/articles/cx2pyye2l9jo/trad",
        ("bbc", "generic"),
        (),
        (),
    ),
    (
        "bbc-zhongwen-2012-layout.html",
        "https://www.bbc.co.uk/zhongwen/simp/chinese_news/2012/12/121210_hongkong_politics.shtml",
        ("bbc", "generic"),
        ("121206102108_cn_cy_leung", "121127090440_cy_leung_house"),
        (),
    ),
    (
        "rfi-cn-article-2025-11-30.html",
        "https://www.rfi.fr/cn/中国/20251130-台湾增加400亿美元国防开支",
        ("rfi", "generic"),
        ("000-867R2EZ",),
        (),
    ),
)


def real_pages() -> None:
    """Picture precision and recall on the outlets' real pages, per extractor."""
    counts: dict[str, Counter[str]] = {}
    lines: list[str] = []
    for name, url, names, truth, optional in REAL_PAGES:
        raw = (REAL / name).read_bytes()
        for extractor in names:
            c = counts.setdefault(extractor if extractor == "generic" else "adapter", Counter())
            try:
                page = extract(raw, url, "", extractor)
            except ExtractError as e:
                lines.append(f"  {name} [{extractor}]: {e}")
                c["truth"] += len(truth)
                continue
            got = [i.src for i in page.images]
            hit = {t for t in truth if any(t in g for g in got)}
            wrong = [g for g in got if not any(t in g for t in (*truth, *optional))]
            c["truth"] += len(truth)
            c["found"] += len(hit)
            c["kept"] += len(got) - sum(1 for g in got if any(o in g for o in optional))
            c["right"] += (
                len(got) - len(wrong) - sum(1 for g in got if any(o in g for o in optional))
            )
            for w in wrong:
                lines.append(f"  {name} [{extractor}]: not an article picture: {w}")
            for t in set(truth) - hit:
                lines.append(f"  {name} [{extractor}]: missing picture {t}")
    print(f"\n## 3. Real outlet pages ({len(REAL_PAGES)} pages, hand-labelled pictures)\n")
    print("| extractor | pictures | precision | recall |")
    print("|---|---|---|---|")
    for label, c in counts.items():
        p = c["right"] / c["kept"] if c["kept"] else 1.0
        r = c["found"] / c["truth"] if c["truth"] else 1.0
        print(f"| {label} | {c['truth']} | {p:.3f} | {r:.3f} |")
    for line in lines:
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--per-template", type=int, default=3, help="Chinese pages per layout")
    ap.add_argument("--repeat", type=int, default=1, help="timing repetitions (best kept)")
    args = ap.parse_args()
    english(args.repeat)
    chinese(args.per_template, args.repeat)
    real_pages()


if __name__ == "__main__":
    main()
