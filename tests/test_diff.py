"""Diffs of revisions: by character for Chinese, by word for Latin scripts."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from newsmirror.diff import Piece, changed, diff, fold, to_html, to_plain


def _sides(pieces: list[Piece]) -> tuple[str, str]:
    before = "".join(p.text for p in pieces if p.op != "+")
    after = "".join(p.text for p in pieces if p.op != "-")
    return before, after


def test_chinese_is_compared_by_character() -> None:
    pieces = diff("政府周三宣布经济增长。", "政府周四宣布经济放缓。")
    assert [p for p in pieces if p.op != "="] == [
        Piece("-", "三"),
        Piece("+", "四"),
        Piece("-", "增长"),
        Piece("+", "放缓"),
    ]


def test_latin_is_compared_by_word() -> None:
    pieces = diff("The cat sat on the mat.", "The car sat on the mat.")
    assert [p for p in pieces if p.op != "="] == [Piece("-", "cat"), Piece("+", "car")]


def test_no_change_is_no_change() -> None:
    assert not changed(diff("同一篇文章。", "同一篇文章。"))
    assert diff("", "") == []


def test_long_unchanged_stretches_are_folded() -> None:
    keep = "未改动的文字。" * 40
    html = to_html(diff(keep + "旧" + keep, keep + "新" + keep))
    assert html.count('<span class="fold">…</span>') == 2
    assert "<del>旧</del><ins>新</ins>" in html
    assert len(html) < 400
    assert to_plain(diff("甲乙", "甲丙")) == "甲[-乙-]{+丙+}"


def test_markup_in_text_is_escaped() -> None:
    html = to_html(diff("a <b>", "a <script>x</script>"))
    assert "<script" not in html and "script&gt;x&lt;/script" in html


def test_text_with_more_distinct_words_than_codes_is_still_diffed() -> None:
    before = " ".join(f"w{i}" for i in range(60_000))
    after = before.replace("w30000", "changed")
    pieces = diff(before, after)
    assert _sides(pieces) == (before, after)
    assert changed(pieces)


@given(st.text(max_size=80), st.text(max_size=80))
def test_the_pieces_spell_both_revisions(before: str, after: str) -> None:
    pieces = diff(before, after)
    assert _sides(pieces) == (before, after)
    assert all(p.text for p in pieces)
    assert all(a.op != b.op for a, b in itertools.pairwise(pieces))
    folded = [p for p in fold(pieces) if p is not None]
    assert all(p.text for p in folded)
