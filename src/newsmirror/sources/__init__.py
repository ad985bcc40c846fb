"""Source kinds.  Each kind is a :class:`Driver`: given a source's settings and catalog
state, it fetches and returns a :class:`~newsmirror.model.SourceResult`.  New kinds plug in
by adding themselves to :data:`DRIVERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..config import SourceSettings
from ..cores import Runner, in_thread
from ..fetch.http import Fetcher
from ..model import SourceResult
from ..store.rows import SourceState


@dataclass(frozen=True, slots=True)
class Context:
    """What a driver may use besides its own settings."""

    fetcher: Fetcher
    now_ms: int
    keep_tracking: bool
    # The dates the catalog has for these idents: lets a driver skip articles it already
    # holds in the same version without fetching them again.
    known_dates: Callable[[Sequence[str]], Mapping[str, int]] = lambda _idents: {}
    iframe_hosts: tuple[str, ...] = ()  # embeds kept from these hosts only
    # Where parsing and extracting run (a worker process on a machine with cores to spare):
    # only module-level functions and plain data go through it.
    cpu: Runner = in_thread
    # The catalog keeps revision bodies deflated: a driver may deflate them where it parses
    # (see SourceResult.packed); the deflating was a fifth of the storing process's time.
    deflate: bool = False


class Driver(Protocol):
    """Collects one source's articles."""

    async def __call__(
        self, source: SourceSettings, state: SourceState | None, ctx: Context
    ) -> SourceResult: ...


def drivers() -> dict[str, Driver]:
    """Every source kind by name."""
    from .dw import collect as dw_collect
    from .feed import collect as feed_collect

    return {"feed": feed_collect, "dw": dw_collect}
