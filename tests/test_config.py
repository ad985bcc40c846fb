"""Config loading: the documented form works, mistakes name file, key and problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from newsmirror.config import load
from newsmirror.config_table import parse_duration
from newsmirror.errors import ConfigError

DOCUMENTED = """
[archive]
path = "site"               # the archive folder (the git work tree when publishing)
layout = "dated"            # or "duty-machine"

[network]
allow_private_networks = false   # loopback and private addresses; tests set true

[publish.git]
enabled = true
remotes = ["origin"]        # remotes of the archive's git repository

[[sources]]
id = "dw"                   # folder name under articles/
name = "德国之声"            # shown in lists and the README
kind = "feed"
url = "https://example.org/dw.xml"
"""


def test_documented_form_loads(tmp_path: Path) -> None:
    cfg = tmp_path / "conf" / "newsmirror.toml"
    cfg.parent.mkdir()
    cfg.write_text(DOCUMENTED, encoding="utf-8")
    s = load(cfg)
    assert s.archive.path == (tmp_path / "conf" / "site").resolve()  # relative to the file
    assert s.archive.layout == "dated" and s.git.enabled and s.git.remotes == ("origin",)
    assert not s.network.allow_private_networks
    (src,) = s.sources
    assert (src.id, src.name, src.kind, src.url) == (
        "dw",
        "德国之声",
        "feed",
        "https://example.org/dw.xml",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('layout = "dated"', 'layout = "flat"'), "archive.layout: must be one of"),
        (
            ("allow_private_networks = false", "allow_private_networks = 1"),
            "network.allow_private_networks: must be true or false",
        ),
        (
            ('url = "https://example.org/dw.xml"', 'url = "ftp://example.org/x"'),
            "sources[0].url: 'ftp://example.org/x' must be an http or https URL",
        ),
        (('id = "dw"', 'id = "../etc"'), "sources[0].id:"),
        (('name = "德国之声"', 'name = "a/b"'), "sources[0].name:"),
        (("[network]", '[network]\ntimeout = "soon"'), "network.timeout: not a duration"),
        (
            ("[network]", "[network]\nallow_privat_networks = true"),
            "network.allow_privat_networks: unknown key",
        ),
        (('kind = "feed"', 'kind = "magic"'), "sources[0].kind: must be one of"),
        (('url = "https://example.org/dw.xml"', ""), "sources[0].url: is required"),
        (('remotes = ["origin"]', 'remotes = "origin"'), "publish.git.remotes: must be a list"),
    ],
)
def test_errors_name_file_key_and_problem(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    cfg = tmp_path / "newsmirror.toml"
    cfg.write_text(DOCUMENTED.replace(*change), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load(cfg)
    assert str(e.value).startswith(str(cfg.resolve()) + ": ")
    assert message in str(e.value)


def test_duplicate_ids_and_syntax_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "newsmirror.toml"
    cfg.write_text(DOCUMENTED + DOCUMENTED[DOCUMENTED.index("[[sources]]") :], encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources\[1\]\.id: duplicate id 'dw'"):
        load(cfg)
    cfg.write_text("[archive\npath = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"invalid TOML.*line 1"):
        load(cfg)
    with pytest.raises(ConfigError, match="no such config file"):
        load(tmp_path / "missing.toml")


def test_durations() -> None:
    assert parse_duration("1h") == 3600 and parse_duration("90s") == 90
    assert parse_duration("15m") == 900 and parse_duration("2") == 2
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("an hour")


def _readme_block(after: str) -> str:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rest = readme[readme.index(after) :]
    start = rest.index("```toml\n") + len("```toml\n")
    return rest[start : rest.index("```", start)]


def test_readme_configuration_loads_with_every_option_switched_on(tmp_path: Path) -> None:
    block = _readme_block("## Configuration")
    # Every commented "# key = value" line switched on: the documented options are real.
    on = re.sub(r"(?m)^# (\w+ = )", r"\1", block)
    retries = _readme_block("`[network]` also sets")
    on = on.replace("[images]", retries + "\n[images]", 1)
    cfg = tmp_path / "newsmirror.toml"
    cfg.write_text(on, encoding="utf-8")
    s = load(cfg)
    (src,) = s.sources
    assert (src.fulltext, src.extractor, src.images, src.script) == (
        "feed",
        "auto",
        "original",
        "hant",
    )
    assert (s.network.retries, s.network.retry_delay, s.network.max_retry_wait) == (2, 2.0, 60.0)
    assert s.archive.processes == 2


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ("[schedule]\nevery = nan\n", "schedule.every: must be a finite duration"),
        ("[schedule]\nevery = inf\n", "schedule.every: must be a finite duration"),
        ("[network]\nconcurrency = 18446744073709551616\n", "network.concurrency: must be at most"),
        ('[publish.git]\nremotes = ["--receive-pack=touch x"]\n', "is not a remote name"),
        ('[archive]\npath = "a\\nb"\n', "must not contain line breaks"),
        ("[archive]\nprocesses = -1\n", "archive.processes: must be at least 0"),
        ("[archive]\nprocesses = 10000\n", "archive.processes: must be at most 256"),
    ],
)
def test_values_that_would_misbehave_are_refused(tmp_path: Path, extra: str, says: str) -> None:
    cfg = tmp_path / "newsmirror.toml"
    cfg.write_text(
        extra + '[[sources]]\nid = "x"\nname = "X"\nurl = "https://x.example/f"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=re.escape(says)):
        load(cfg)


def test_source_name_with_a_line_break_and_a_misspelt_key(tmp_path: Path) -> None:
    cfg = tmp_path / "newsmirror.toml"
    cfg.write_text('[[sources]]\nid = "x"\nname = "A\\nCo-authored-by: x"\nurl = "https://x"\n')
    with pytest.raises(ConfigError, match=r"sources\[0\].name: .* must not contain line breaks"):
        load(cfg)
    cfg.write_text('[[sources]]\nid = "x"\nname = "X"\nulr = "https://x.example/f"\n')
    with pytest.raises(ConfigError, match=r"sources\[0\].url: is required \(is 'ulr' a typo"):
        load(cfg)
