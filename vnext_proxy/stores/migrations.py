"""The store's schema: one ordered list of migrations for SQLite and PostgreSQL.

Entry N migrates a store from version N-1 to version N; each store keeps its
version its own way (SQLite: PRAGMA user_version; PostgreSQL: a
``schema_version`` table under an advisory lock) and applies the entries it
has not yet, in order. Never edit an entry that shipped: stores out there
are at its version already, and would never see the change. Add a new one.

The SQL is written once. Where the dialects differ, an entry names a
placeholder (``{time}``, ``{json}`` ...) that ``render`` fills from the
dialect's ``Dialect``; a literal brace is written doubled. SQLite runs each
entry one statement at a time (split on ``;``), so no literal may hold a
semicolon.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Dialect:
    """What one database spells differently."""

    #: Before the names of the first migration's tables and indexes. SQLite's
    #: first migration also adopts a file made before migrations existed
    #: (the tables there already, user_version 0); a PostgreSQL schema never
    #: had tables without a version table, so a table there already is
    #: somebody else's, and creating it must fail rather than take it over.
    if_not_exists: str
    #: A record's times (created_at, ended_at ...). SQLite keeps ISO 8601 text
    #: with its UTC offset, read back with datetime.fromisoformat.
    time: str
    #: A record's JSON fields (params, defaults, tags) and kept answers' headers.
    json: str
    #: A kept answer's body.
    bytes: str
    #: A moment compared in SQL with the store's clock: a lease's expiry, an
    #: idempotency key's claim. SQLite's store passes time.time(), seconds
    #: since the epoch (its processes share one machine, so one clock);
    #: PostgreSQL's uses now(), the database's, so replicas need not agree.
    clock: str
    #: The index that finds running tasks (the poller asks at every cycle).
    #: PostgreSQL's is partial: tasks end, so most rows are not running.
    #: SQLite's covers every state; it shipped so, and stays so.
    running_index: str


SQLITE = Dialect(
    if_not_exists="IF NOT EXISTS",
    time="TEXT",
    json="TEXT",
    bytes="BLOB",
    clock="REAL",
    running_index="tasks_by_state ON tasks (state)",
)

POSTGRES = Dialect(
    if_not_exists="",
    time="TIMESTAMPTZ",
    json="JSONB",
    bytes="BYTEA",
    clock="TIMESTAMPTZ",
    running_index="tasks_running ON tasks (state) WHERE state = 'RUNNING'",
)

MIGRATIONS: tuple[str, ...] = (
    # 1: tasks, their items, leases and server groups.
    """
    CREATE TABLE {if_not_exists} tasks (
        id TEXT PRIMARY KEY,
        server_id TEXT NOT NULL,
        project_id TEXT,
        action TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at {time} NOT NULL,
        created_by TEXT,
        deadline_at {time} NOT NULL,
        request_id TEXT,
        updated_at {time},
        ended_at {time},
        reason TEXT,
        params {json} NOT NULL,
        phase TEXT NOT NULL,
        last_task_state TEXT
    );
    CREATE INDEX {if_not_exists} tasks_by_server ON tasks (server_id, created_at);
    CREATE INDEX {if_not_exists} {running_index};
    CREATE TABLE {if_not_exists} task_items (
        id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks (id),
        action TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at {time} NOT NULL,
        started_at {time} NOT NULL,
        ended_at {time},
        nova_event TEXT
    );
    CREATE INDEX {if_not_exists} items_by_task ON task_items (task_id, created_at);
    CREATE TABLE {if_not_exists} leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at {clock} NOT NULL);
    CREATE TABLE {if_not_exists} server_groups (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        name TEXT NOT NULL,
        slug TEXT NOT NULL,
        created_by TEXT,
        created_at {time} NOT NULL,
        description TEXT,
        defaults {json} NOT NULL,
        tags {json} NOT NULL,
        UNIQUE (project_id, slug)
    );
    """,
    # 2: compare-and-set saves, the creator's token digest, admins' reason.
    """
    ALTER TABLE tasks ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN creator_token_sha256 TEXT;
    ALTER TABLE tasks ADD COLUMN admin_reason TEXT;
    """,
    # 3: answers kept for requests sent with an Idempotency-Key.
    """
    CREATE TABLE idempotency_keys (
        scope TEXT PRIMARY KEY,
        body_sha256 TEXT NOT NULL,
        created_at {clock} NOT NULL,
        status INTEGER,
        body {bytes},
        headers {json}
    );
    """,
)


def render(dialect: Dialect) -> tuple[str, ...]:
    """``MIGRATIONS`` in ``dialect``'s SQL, in order."""
    return tuple(script.format_map(asdict(dialect)) for script in MIGRATIONS)
