"""The catalog's schema, as the migrations that build it: ``user_version`` counts those
applied, and :class:`~newsmirror.store.catalog.Catalog` applies the rest in one transaction.

A migration is never edited once released: a catalog made by it exists somewhere.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: initial schema
    """
    CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        last_attempt_ms INTEGER,
        last_success_ms INTEGER,
        last_error TEXT,
        last_error_ms INTEGER,
        failures INTEGER NOT NULL DEFAULT 0,
        last_changed_ms INTEGER,
        next_number INTEGER NOT NULL DEFAULT 1048574,
        adopted INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL REFERENCES sources(id),
        ident TEXT NOT NULL,
        key TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        number INTEGER,
        url TEXT NOT NULL,
        canonical TEXT NOT NULL,
        title TEXT NOT NULL,
        date_ms INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_changed_ms INTEGER NOT NULL,
        UNIQUE (source, ident)
    );
    CREATE INDEX articles_by_number ON articles (source, number);
    CREATE INDEX articles_by_date ON articles (source, date_ms);
    CREATE INDEX articles_by_canonical ON articles (source, canonical);
    CREATE TABLE revisions (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        content_hash TEXT NOT NULL,
        seen_ms INTEGER NOT NULL,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        date_ms INTEGER NOT NULL,
        authors TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX revisions_by_article ON revisions (article_id, id);
    CREATE TABLE item_errors (
        source TEXT NOT NULL,
        location TEXT NOT NULL,
        reason TEXT NOT NULL,
        first_ms INTEGER NOT NULL,
        last_ms INTEGER NOT NULL,
        PRIMARY KEY (source, location)
    );
    """,
    # 2: scheduling (Retry-After, Cache-Control, backoff) and failure streaks
    """
    ALTER TABLE sources ADD COLUMN next_due_ms INTEGER;
    ALTER TABLE sources ADD COLUMN failing_since_ms INTEGER;
    """,
    # 3: what renderings depend on (links between articles, image copies); second scripts
    """
    ALTER TABLE articles ADD COLUMN alt_path TEXT;
    CREATE INDEX articles_by_ident ON articles (ident);
    CREATE INDEX articles_by_canonical_any ON articles (canonical);
    CREATE TABLE refs (
        key TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        PRIMARY KEY (key, article_id)
    ) WITHOUT ROWID;
    CREATE INDEX refs_by_article ON refs (article_id);
    CREATE TABLE assets (
        url TEXT PRIMARY KEY,
        path TEXT,
        status TEXT NOT NULL,
        content_type TEXT,
        bytes INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_try_ms INTEGER,
        first_ms INTEGER NOT NULL,
        last_ms INTEGER NOT NULL
    );
    CREATE INDEX assets_by_retry ON assets (status, next_try_ms);
    CREATE TABLE pending_refs (key TEXT PRIMARY KEY) WITHOUT ROWID;
    """,
    # 4: full-text search (see search.py) and what the static site was last built from
    """
    CREATE TABLE search_docs (
        article_id INTEGER PRIMARY KEY REFERENCES articles(id),
        hash TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE VIRTUAL TABLE search_fts USING fts5 (
        title, body, content = 'search_docs', content_rowid = 'article_id',
        tokenize = 'unicode61 remove_diacritics 2', prefix = '1'
    );
    CREATE TABLE site_pages (
        path TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE site_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    """,
    # 5: re-checks of archived articles and what they found (see watch.py); a search
    # index without a copy of the text (contentless FTS5: the revisions hold the text)
    """
    ALTER TABLE articles ADD COLUMN unlisted_ms INTEGER;
    CREATE TABLE checks (
        article_id INTEGER PRIMARY KEY REFERENCES articles(id),
        step INTEGER NOT NULL DEFAULT 0,
        due_ms INTEGER,
        etag TEXT,
        last_modified TEXT,
        state TEXT NOT NULL DEFAULT 'live',
        misses INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        last_ms INTEGER,
        last_result TEXT,
        page_title TEXT
    );
    CREATE INDEX checks_by_due ON checks (due_ms) WHERE due_ms IS NOT NULL;
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        before_rev INTEGER,
        after_rev INTEGER
    );
    CREATE INDEX events_by_article ON events (article_id, id);
    CREATE INDEX events_by_time ON events (at_ms);
    CREATE TABLE evidence (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        event_id INTEGER REFERENCES events(id),
        at_ms INTEGER NOT NULL,
        url TEXT NOT NULL,
        status INTEGER NOT NULL,
        warc BLOB NOT NULL
    );
    CREATE INDEX evidence_by_article ON evidence (article_id);
    CREATE INDEX evidence_by_time ON evidence (at_ms);
    DROP TABLE search_fts;
    DROP TABLE search_docs;
    CREATE TABLE search_docs (
        article_id INTEGER PRIMARY KEY REFERENCES articles(id),
        hash TEXT NOT NULL,
        revision_id INTEGER NOT NULL
    );
    CREATE VIRTUAL TABLE search_fts USING fts5 (
        title, body, content = '',
        tokenize = 'unicode61 remove_diacritics 2', prefix = '1'
    );
    """,
    # 6: rotation (see store/rotation.py): which repository holds each article's file
    """
    ALTER TABLE articles ADD COLUMN home TEXT;
    CREATE INDEX articles_by_home ON articles (home);
    CREATE INDEX articles_by_alt_path ON articles (alt_path);
    """,
    # 7: search without a prefix index: words of one character are found in an index of
    # the characters each article contains, and the titles have their own small index for
    # ranking (see search.py); the index is made again
    """
    DROP TABLE search_fts;
    DELETE FROM search_docs;
    CREATE VIRTUAL TABLE search_fts USING fts5 (
        title, body, content = '', tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE VIRTUAL TABLE search_chars USING fts5 (
        chars, content = '', detail = none, columnsize = 0,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE VIRTUAL TABLE search_titles USING fts5 (
        title, content = '', columnsize = 0, tokenize = 'unicode61 remove_diacritics 2'
    );
    """,
    # 8: articles recorded by workers whose files the publisher has not written yet
    # (see queue.py; a single-process pass writes the files before their rows), and the
    # politeness towards hosts that workers share (fetch/polite.py)
    """
    CREATE TABLE unpublished (article_id INTEGER PRIMARY KEY REFERENCES articles(id));
    CREATE TABLE hosts (
        name TEXT PRIMARY KEY,
        next_ms INTEGER,
        asked_ms INTEGER,
        hold_until_ms INTEGER,
        refusals INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 9: nothing in SQLite; PostgreSQL's search index gains the pairs of adjacent tokens
    # (schema_pg.py), and both engines keep counting schemas with one number
    "",
    # 10: fewer pages written by each commit of a pass.  ``home`` and ``alt_path`` are NULL
    # for nearly every article, and every lookup names a value: their indexes keep only the
    # others.
    """
    DROP INDEX articles_by_home;
    CREATE INDEX articles_by_home ON articles (home) WHERE home IS NOT NULL;
    DROP INDEX articles_by_alt_path;
    CREATE INDEX articles_by_alt_path ON articles (alt_path) WHERE alt_path IS NOT NULL;
    """,
    # 11: nothing in SQLite; PostgreSQL's search index keeps the text's words and makes its
    # keys in an index over them (schema_pg.py)
    "",
    # 12: nothing in SQLite; PostgreSQL compresses its search rows with lz4
    "",
    # 13: nothing in SQLite, whose columns take text or bytes alike (its revision bodies
    # were already deflated) and whose index keeps every word; PostgreSQL's bodies are
    # deflated from now on too, and its longest search rows listed (schema_pg.py)
    "",
    # 14: image copies a worker downloaded, waiting for the publisher to write them into
    # the archive (workers have no copy of it); by their archive path.  The articles
    # archived lately, for the re-checks' schedule to enroll (every minute, with workers)
    """
    CREATE TABLE asset_data (path TEXT PRIMARY KEY, data BLOB NOT NULL);
    CREATE INDEX articles_by_first_seen ON articles (first_seen_ms);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """The statements of a migration, in either engine: split at each ``;`` outside a
    ``$$``-quoted body (a PostgreSQL function's, a ``DO`` block's), since a prepared
    statement is one statement."""
    out: list[str] = []
    current = ""
    for k, piece in enumerate(script.split("$$")):
        if k % 2:  # inside $$ … $$
            current += "$$" + piece + "$$"
            continue
        *ends, current_tail = piece.split(";")
        for end in ends:
            out.append(current + end)
            current = ""
        current += current_tail
    out.append(current)
    return [s for s in out if s.strip()]
