"""What every command shares: the consoles, printing values from outside safely, the
config object, failing with a clear message, opening the catalog."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.text import Text

from .config import Settings, load
from .errors import NewsmirrorError
from .model import clamp_ms, one_line
from .store.catalog import Catalog

# Off a terminal, never wrap: one event per line, whatever its length.
# Markup is off unless a call asks for it, and then every value from outside goes through
# `lit`: a feed URL, a guid, an error or a config value holding "[/b]" once crashed the
# commands (rich's MarkupError), and an ESC in a title reached the terminal.
console = Console(stderr=False, highlight=False, markup=False, soft_wrap=not sys.stdout.isatty())
err_console = Console(stderr=True, highlight=False, markup=False, soft_wrap=not sys.stderr.isatty())


def lit(value: object) -> str:
    """A value from outside as printed: without control characters, on one line (off a
    terminal each event is one line; a CR would let it overwrite what came before).

    Values are never put into rich markup: rich's own escaping leaves a backslash before
    a bracket to be read as markup (``\\[b]`` lost text, ``\\[/]`` raised).  Styled lines
    are assembled from (text, style) pieces with :func:`styled` instead.
    """
    return one_line(str(value)).replace("\n", " ")


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line of plain pieces and (text, style) pieces, none of them read as markup."""
    return Text.assemble(*parts)


class Obj:
    """What the command group hands each command: the config file's path."""

    def __init__(self, config: Path) -> None:
        self.config = config

    def settings(self) -> Settings:
        return load(self.config)


def fail(e: NewsmirrorError) -> None:
    """Print the error and exit 1."""
    err_console.print(styled(("error:", "bold red"), " ", lit(e)), highlight=False)
    sys.exit(1)


def open_catalog(obj: Obj) -> tuple[Settings, Catalog]:
    """Settings and the existing catalog, or exit 1 with the reason."""
    try:
        settings = obj.settings()
        return settings, Catalog(settings.catalog, create=False)
    except NewsmirrorError as e:
        fail(e)
        raise  # not reached: fail exits


def fmt_time(ms: int | None) -> str:
    """A time as the commands print it (UTC)."""
    if ms is None:
        return "—"
    return datetime.fromtimestamp(clamp_ms(ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
