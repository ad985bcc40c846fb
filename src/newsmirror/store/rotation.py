"""Where each article's file lives once an archive is rotated (see ``rotate.py``).

``articles.home`` is NULL for the archive itself and the period's name (``2024``) for an
article moved to that period's repository.  The catalog says so before the files move, so
an interrupted rotation is finished by the next run from what the catalog says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .catalog import Catalog
from .rows import ListEntry

SQUASH_PENDING = "rotate_squash_pending"


@dataclass(frozen=True, slots=True)
class Placed:
    """A rotated article: its id, source, main file and second-script file."""

    article_id: int
    source: str
    path: str
    alt_path: str | None
    home: str


class Homes:
    """The ``home`` column read and written (one catalog, one pass)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.db = catalog.db

    def due(self, before_ms: int, sources: Sequence[str]) -> list[tuple[int, int]]:
        """``(article id, date)`` of the articles still in the archive dated before
        ``before_ms``, oldest first."""
        rows = self.catalog._rows_in(
            "SELECT id, date_ms FROM articles WHERE home IS NULL AND date_ms < ? AND source IN (?)",
            sources,
            before_ms,
        )
        return sorted(((r[0], r[1]) for r in rows), key=lambda r: (r[1], r[0]))

    def link_keys(self, article_ids: Sequence[int]) -> list[str]:
        """Every key a link to these articles is known by (``transform.links``): what
        renderings linking to them depend on."""
        rows = self.catalog._rows_in(
            "SELECT ident, canonical, path FROM articles WHERE id IN (?)", article_ids
        )
        return [k for ident, canon, path in rows for k in (ident, f"url:{canon}", f"path:{path}")]

    def set_home(self, article_ids: Sequence[int], home: str) -> None:
        """These articles now belong to ``home`` (in the caller's transaction)."""
        self.db.executemany(
            "UPDATE articles SET home = ? WHERE id = ?", [(home, i) for i in article_ids]
        )

    def of_paths(self, paths: Sequence[str]) -> dict[str, str | None]:
        """The home of each archive path known as an article's file or second-script
        file; paths no article has are left out."""
        out: dict[str, str | None] = {}
        for column in ("path", "alt_path"):
            rows = self.catalog._rows_in(
                f"SELECT {column}, home FROM articles WHERE {column} IN (?)", paths
            )
            for path, home in rows:
                out[path] = home
        return out

    def placed(self, home: str | None = None) -> list[Placed]:
        """Every rotated article (of ``home`` when given), by id."""
        sql = "SELECT id, source, path, alt_path, home FROM articles WHERE home IS NOT NULL"
        args: tuple[str, ...] = ()
        if home is not None:
            sql, args = sql + " AND home = ?", (home,)
        return [Placed(*row) for row in self.db.execute(sql + " ORDER BY id", args)]

    def counts(self) -> dict[str, int]:
        """Articles per period repository."""
        rows = self.db.execute(
            "SELECT home, count(*) FROM articles WHERE home IS NOT NULL GROUP BY home ORDER BY home"
        )
        return {home: n for home, n in rows}

    def moved_by_source(self) -> dict[str, int]:
        """Rotated articles per source, all periods."""
        rows = self.db.execute(
            "SELECT source, count(*) FROM articles WHERE home IS NOT NULL GROUP BY source"
        )
        return {s: n for s, n in rows}

    def sources_of(self, home: str) -> dict[str, int]:
        """Articles per source in one period repository."""
        rows = self.db.execute(
            "SELECT source, count(*) FROM articles WHERE home = ? GROUP BY source", (home,)
        )
        return {s: n for s, n in rows}

    def entries(self, source: str, home: str, *, by_number: bool) -> list[ListEntry]:
        """Every article of ``source`` in period repository ``home``, newest first."""
        order = "number ASC" if by_number else "date_ms DESC, id DESC"
        rows = self.db.execute(
            f"SELECT path, title, date_ms, number, home FROM articles "
            f"WHERE source = ? AND home = ? ORDER BY {order}",
            (source, home),
        )
        return [ListEntry(*row) for row in rows]
