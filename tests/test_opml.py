"""Sources exported and imported as OPML 2.0: a round trip loses nothing, and another
reader's export becomes sources."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from newsmirror.config import load
from newsmirror.opml import NS, export, import_into

from .test_cli import nm

FIXTURE = Path(__file__).parent / "fixtures/opml/reader-export.opml"
BASE = '[archive]\npath = "archive"\n\n[publish.git]\nenabled = false\n'


def test_round_trip_keeps_every_setting(tmp_path: Path) -> None:
    assert nm(tmp_path, "init").returncode == 0
    cfg = tmp_path / "newsmirror.toml"
    text = cfg.read_text()
    # Settings off their defaults, on both kinds of source.
    text = text.replace('id = "rfa"\n', 'id = "rfa"\nimages = "copy"\nenabled = false\n')
    text = text.replace('id = "dw-hant"\n', 'id = "dw-hant"\nimage_format = 906\n')
    cfg.write_text(text)
    before = load(cfg).sources
    r = nm(tmp_path, "sources", "export", "-o", "out.opml")
    assert r.returncode == 0, r.stderr
    doc = etree.fromstring((tmp_path / "out.opml").read_bytes())
    rfa = next(o for o in doc.iter("outline") if o.get(f"{{{NS}}}id") == "rfa")
    assert rfa.get("xmlUrl") == "https://www.rfa.org/mandarin/rss2.xml" and rfa.get("type") == "rss"
    assert rfa.get(f"{{{NS}}}images") == "copy" and rfa.get(f"{{{NS}}}enabled") == "false"
    other = tmp_path / "other"
    other.mkdir()
    (other / "newsmirror.toml").write_text(BASE)  # no sources yet
    done = import_into(other / "newsmirror.toml", (tmp_path / "out.opml").read_bytes())
    assert done.added == [s.id for s in before] and not done.skipped
    assert load(other / "newsmirror.toml").sources == before
    # Importing the same file again adds nothing.
    again = import_into(other / "newsmirror.toml", (tmp_path / "out.opml").read_bytes())
    assert again.added == [] and len(again.skipped) == len(before)


def test_another_readers_export_becomes_sources(tmp_path: Path) -> None:
    cfg = tmp_path / "newsmirror.toml"
    cfg.write_text(
        BASE + '\n[[sources]]\nid = "rfa"\nname = "自由亚洲"\n'
        'url = "https://www.rfa.org/mandarin/rss2.xml"\n'
    )
    r = nm(tmp_path, "sources", "import", str(FIXTURE))
    assert r.returncode == 0, r.stderr
    assert "skipped https://www.rfa.org/mandarin/rss2.xml: already a source" in r.stdout
    assert "skipped file:///home/me/feed.xml: not an http(s) feed address" in r.stdout
    sources = {s.id: s for s in load(cfg).sources}
    assert sources["www-voachinese-com"].name == "美国之音中文网"  # a Chinese title: the host
    assert sources["www-voachinese-com"].url == "https://www.voachinese.com/api/zyrtyequty"
    assert sources["ars-technica"].kind == "feed"
    assert sources["ars-technica-2"].url.endswith("/science")  # same title, distinct ids
    assert cfg.read_text().startswith(BASE)  # what was there stays as it was


def test_an_odd_outline_costs_only_itself(tmp_path: Path) -> None:
    cfg = tmp_path / "newsmirror.toml"
    cfg.write_text(BASE)
    bad = (
        b'<opml version="2.0" xmlns:nm="' + NS.encode() + b'"><body>'
        b'<outline text="x" xmlUrl="https://x.example/f" nm:fulltext="always"/>'
        b'<outline text="a/b" xmlUrl="https://x.example/g"/>'
        b'<outline text="n" xmlUrl="https://x.example/n" nm:enabled="maybe"/>'
        b'<outline text="good" xmlUrl="https://x.example/h"/></body></opml>'
    )
    (tmp_path / "bad.opml").write_bytes(bad)
    r = nm(tmp_path, "sources", "import", "bad.opml")
    assert r.returncode == 0, r.stderr
    assert "skipped https://x.example/f: " in r.stdout and "fulltext" in r.stdout
    assert "skipped https://x.example/g: " in r.stdout and "names a file" in r.stdout
    assert "skipped https://x.example/n: " in r.stdout and "true or false" in r.stdout
    assert [s.id for s in load(cfg).sources] == ["good"]
    assert cfg.read_text().startswith(BASE)
    (tmp_path / "not.opml").write_bytes(b"<rss/>")
    r = nm(tmp_path, "sources", "import", "not.opml")
    assert r.returncode == 1 and "not an OPML document" in r.stderr


def test_export_is_opml_any_reader_reads() -> None:
    from newsmirror.config import SourceSettings

    doc = export(
        [SourceSettings(id="a", name="甲 & <乙>", kind="feed", url="https://a.example/f")], "t"
    )
    root = etree.fromstring(doc)
    assert root.tag == "opml" and root.get("version") == "2.0"
    (o,) = root.iter("outline")
    assert o.get("text") == "甲 & <乙>" and o.get("xmlUrl") == "https://a.example/f"
    assert root.find("head/dateCreated") is not None
