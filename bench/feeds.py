"""Agreement with feedparser on its own test corpus: entries, links, titles, bodies.

Every file of feedparser's test corpus (downloaded once from the package registry into
``.cache/``) is read by newsmirror and by feedparser; for each entry feedparser reads with an
http(s) link, we count whether newsmirror gives the same resolved link, title text and body
text (bodies compared after sanitizing, all three after whitespace normalisation), and list
every difference.  Also times both readers on the well-formed files.  Prints; asserts nothing.

    python bench/feeds.py [--show N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

import feedparser

from newsmirror.sources.feed import read_items
from tests.feedcorpus import compare, corpus, url_of


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--show", type=int, default=40, help="differences to print")
    args = ap.parse_args()
    files = corpus()
    totals: Counter[str] = Counter()
    differences: list[str] = []
    for path in files:
        o = compare(path)
        totals["entries"] += o.entries
        totals["links"] += o.same_link
        totals["titles"] += o.same_title
        totals["bodies"] += o.same_body
        totals["item errors"] += o.item_errors
        totals["all"] += o.all_entries
        totals["all titles"] += o.all_same_title
        totals["all bodies"] += o.all_same_body
        differences += o.differences
    n = totals["entries"]
    print(f"feedparser corpus: {len(files)} files, {n} entries with an http(s) link")
    for key in ("links", "titles", "bodies"):
        print(f"  same {key:7} {totals[key]:5d} / {n}  ({totals[key] / max(n, 1):.2%})")
    print(f"  item errors  {totals['item errors']:5d}")
    a = totals["all"]
    print(f"every entry feedparser reads, linked or not: {a}")
    for key in ("titles", "bodies"):
        print(
            f"  same {key:7} {totals['all ' + key]:5d} / {a}  ({totals['all ' + key] / max(a, 1):.2%})"
        )
    print(f"  differences  {len(differences):5d}")
    for line in differences[: args.show]:
        print("    " + line)
    # Speed on the same bytes: the reader newsmirror uses against feedparser.
    blobs = [(p.read_bytes(), url_of(p)) for p in files if "wellformed" in p.parts]
    t = time.process_time()
    for raw, url in blobs:
        with contextlib.suppress(Exception):
            read_items(raw, url)
    ours = time.process_time() - t
    t = time.process_time()
    for raw, url in blobs:
        feedparser.parse(raw, response_headers={"content-location": url})
    theirs = time.process_time() - t
    print(
        f"well-formed files ({len(blobs)}): newsmirror {ours:.2f} s, feedparser {theirs:.2f} s "
        f"CPU ({theirs / max(ours, 1e-9):.1f}x)"
    )


if __name__ == "__main__":
    main()
