"""Robustness run: every file of feedparser's own test corpus through our parser.

Downloads (once, into ``.cache/``) the feedparser source distribution from PyPI (its ``tests/`` folder holds ~2,300
real-world and hostile feed files: encodings, entities, malformed XML, sanitizer attacks),
then runs each file through ``parse_feed`` (parse, identity, sanitize) and counts what
happened: articles, per-item errors, clear per-document errors, and crashes (anything that
is not our own error: a bug).  Every article body is also audited for active content.
Prints figures; asserts nothing.

    python bench/robustness.py [--version 6.0.11] [--keep DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsmirror.errors import NewsmirrorError
from newsmirror.sources.feed import parse_feed, read_items
from newsmirror.transform.sanitize import sanitize
from tests.feedcorpus import CACHE, FEED_SUFFIXES, corpus

ACTIVE = re.compile(
    r"<\s*(script|style|object|embed|form|svg|math|base|meta|link)\b|\son[a-z]+\s*=|"
    r"""(href|src|action|formaction|srcset)\s*=\s*["']?\s*(javascript|vbscript|data|file):""",
    re.I,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", default="6.0.11")
    ap.add_argument("--keep", help="download and extract here (default: the project's .cache/)")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else CACHE.parent / f"feedparser-{args.version}"
    files = corpus(work, args.version, (*FEED_SUFFIXES, ".gz", ".txt"))
    outcome: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    crashes: list[str] = []
    active: list[str] = []
    articles = item_errors = audited = 0
    slowest = (0.0, "")
    started = time.perf_counter()
    for path in files:
        raw = path.read_bytes()
        t = time.perf_counter()
        try:
            arts, errs = parse_feed(
                raw, source="corpus", feed_url="http://example.org/feed", now_ms=0
            )
        except NewsmirrorError as e:
            outcome["clear document error"] += 1
            reasons[str(e).split(":")[0][:60]] += 1
            continue
        except Exception:  # a bug: counted and shown
            outcome["CRASH"] += 1
            crashes.append(f"{path.relative_to(work)}\n{traceback.format_exc(limit=3)}")
            continue
        finally:
            slowest = max(slowest, (time.perf_counter() - t, path.name))
        outcome["parsed, with articles" if arts else "parsed, no entries"] += 1
        articles += len(arts)
        item_errors += len(errs)
        for e in errs:
            reasons[e.reason.split(":")[0][:60]] += 1
        # Every entry body, linked or not, through the sanitizer: the corpus's attack files
        # mostly have no links, so they would otherwise never reach it.
        bodies = [a.body for a in arts] + [
            sanitize(i.body, "http://example.org/entry") for i in read_items(raw)
        ]
        audited += len(bodies)
        for body in bodies:
            if ACTIVE.search(body):
                active.append(f"{path.relative_to(work)}: {ACTIVE.search(body)}")
    total = time.perf_counter() - started
    print(
        f"feedparser {args.version} test corpus: {len(files)} files in {total:.1f} s "
        f"(slowest {slowest[0] * 1000:.0f} ms: {slowest[1]})"
    )
    for key in ("parsed, with articles", "parsed, no entries", "clear document error", "CRASH"):
        print(f"  {key:24} {outcome[key]:5d}")
    print(f"  articles {articles}, per-item errors {item_errors}")
    print(f"  sanitized bodies audited {audited}, with active content: {len(active)}")
    for line in active[:10]:
        print("    " + line)
    print("  reasons:", dict(reasons.most_common(8)))
    for crash in crashes[:5]:
        print(crash)


if __name__ == "__main__":
    main()
