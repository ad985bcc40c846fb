"""Differences between two revisions of an article, as a reader wants to see them.

Chinese text has no spaces between words, so a word diff would mark whole sentences
changed for one character; a character diff of English marks "cat" -> "car" as one
letter.  Text is cut into tokens — a run of letters or digits of a spaced script, a run
of white space, or any other single character (each Han character, each punctuation
mark) — and the two token sequences are compared: character by character for Chinese,
word by word for Latin scripts.

The comparison is diff-match-patch's (the C++ build), on the tokens each spelt as one
character; its time limit keeps a pathological pair (two unrelated 10,000-character texts)
from costing more than a fraction of a second — the diff is then coarser, never wrong.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import fast_diff_match_patch as dmp

Op = Literal["=", "-", "+"]

_TOKEN = re.compile(
    r"[0-9A-Za-z_\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff'’-]+|\s+|.",
    re.S,
)
TIME_LIMIT_S = 0.04  # diff-match-patch's budget for one pair (then a coarser diff)
CONTEXT = 40  # characters of unchanged text kept on each side of a change when folding


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of text: kept (``=``), deleted (``-``) or inserted (``+``)."""

    op: Op
    text: str


def tokens(text: str) -> list[str]:
    """Words of spaced scripts, runs of white space, and every other single character."""
    return _TOKEN.findall(text)


def diff(before: str, after: str) -> list[Piece]:
    """The pieces that turn ``before`` into ``after`` (adjacent pieces differ in op)."""
    if before == after:
        return [Piece("=", before)] if before else []
    ta, tb = tokens(before), tokens(after)
    codes: dict[str, str] = {}
    for tok in (*ta, *tb):
        if tok not in codes:
            codes[tok] = chr(len(codes) + 1)
    seq_a: Sequence[str] = ta
    seq_b: Sequence[str] = tb
    if len(codes) < 0xD7FF:
        a, b = "".join(map(codes.__getitem__, ta)), "".join(map(codes.__getitem__, tb))
    else:
        # Codes run from U+0001 up; past U+D7FF they would be surrogates, which cannot be
        # handed on: a pair with that many distinct tokens is compared by character.
        a, b = seq_a, seq_b = before, after
    ops = dmp.diff(a, b, timelimit=TIME_LIMIT_S, checklines=False, cleanup="Semantic")
    pieces: list[Piece] = []
    i = j = 0  # tokens of before / after used so far
    for op, n in ops:
        if op == "+":
            text = "".join(seq_b[j : j + n])
            j += n
        else:
            text = "".join(seq_a[i : i + n])
            i += n
            if op == "=":
                j += n
        if pieces and pieces[-1].op == op:
            pieces[-1] = Piece(op, pieces[-1].text + text)
        elif text:
            pieces.append(Piece(op, text))
    return pieces


def changed(pieces: Sequence[Piece]) -> bool:
    """Whether any piece is an insertion or a deletion."""
    return any(p.op != "=" for p in pieces)


def fold(pieces: Sequence[Piece], context: int = CONTEXT) -> Iterator[Piece | None]:
    """The pieces with long unchanged stretches cut to ``context`` characters around each
    change; ``None`` stands where text was left out."""
    last = len(pieces) - 1
    for i, p in enumerate(pieces):
        if p.op != "=" or len(p.text) <= 2 * context + 10:
            yield p
            continue
        head = p.text[:context] if i > 0 else ""
        tail = p.text[-context:] if i < last else ""
        if head:
            yield Piece("=", head)
        yield None
        if tail:
            yield Piece("=", tail)


def to_html(pieces: Sequence[Piece], context: int = CONTEXT) -> str:
    """Inline HTML: ``<del>``/``<ins>`` for changes, ``<span class="fold">…</span>`` where
    unchanged text was folded away; line breaks kept as ``<br>``."""

    def esc(text: str) -> str:
        return html.escape(text).replace("\n", "<br>\n")

    out = []
    for p in fold(pieces, context):
        if p is None:
            out.append('<span class="fold">…</span>')
        elif p.op == "=":
            out.append(esc(p.text))
        elif p.op == "-":
            out.append(f"<del>{esc(p.text)}</del>")
        else:
            out.append(f"<ins>{esc(p.text)}</ins>")
    return "".join(out)


def to_plain(pieces: Sequence[Piece], context: int = CONTEXT) -> str:
    """For a terminal without colour: ``[-deleted-]`` and ``{+inserted+}``, ``…`` folds."""
    out = []
    for p in fold(pieces, context):
        if p is None:
            out.append(" … ")
        elif p.op == "=":
            out.append(p.text)
        elif p.op == "-":
            out.append(f"[-{p.text}-]")
        else:
            out.append(f"{{+{p.text}+}}")
    return "".join(out)
