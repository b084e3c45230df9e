"""Where conversations persist: LangGraph checkpointers chosen by ``Settings.checkpoint``.

- ``"sqlite"`` (default): ``conversations.sqlite`` in the data directory (LangGraph's ``SqliteSaver``). A file
  that another process keeps locked longer than the busy timeout raises :class:`ConversationStoreBusyError`.
- ``"memory"``: LangGraph's ``InMemorySaver``; lost when the process exits.
- ``"postgresql://..."``: LangGraph's ``PostgresSaver`` over a psycopg connection pool (the ``postgres``
  extra), so several app processes, on one machine or many, serve the same conversations.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from crs_agent.knowledge.config import Settings
from crs_agent.knowledge.errors import (
    ConversationStoreBusyError,
    ConversationStoreError,
    ConversationStoreUnavailableError,
)

__all__ = ["SQLITE_BUSY_TIMEOUT", "make_checkpointer", "thread_ids"]

SQLITE_BUSY_TIMEOUT = 5.0  # seconds a turn waits for another process's lock on conversations.sqlite
_SETUP_LOCK = 0x637273_6167656E  # pg_advisory_lock key: one process at a time creates the tables
_PG_CONNECT_TIMEOUT = 10  # seconds
_THREADS_SQL = {  # a user's threads, newest first, in one query (checkpoint ids are time-ordered)
    "sqlite": "SELECT thread_id FROM checkpoints WHERE substr(thread_id, 1, ?) = ? "
    "GROUP BY thread_id ORDER BY max(checkpoint_id) DESC",
    "postgres": "SELECT thread_id FROM checkpoints WHERE left(thread_id, %s) = %s "
    "GROUP BY thread_id ORDER BY max(checkpoint_id) DESC",
}


def make_checkpointer(settings: Settings, *, busy_timeout: float = SQLITE_BUSY_TIMEOUT) -> BaseCheckpointSaver:
    """The checkpointer for ``settings.checkpoint``.

    ``busy_timeout`` is how long an SQLite write waits for another process's lock before the turn fails
    with :class:`ConversationStoreBusyError`. A PostgreSQL store is reached and its tables created now, so a
    wrong URL fails at start-up with :class:`ConversationStoreUnavailableError`.
    """
    if settings.checkpoint == "memory":
        return InMemorySaver()
    if settings.checkpoint == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return _BusyAwareSqliteSaver(settings.data_dir / "conversations.sqlite", busy_timeout)
    return _postgres_saver(settings.checkpoint)


def thread_ids(saver: BaseCheckpointSaver, prefix: str) -> list[str] | None:
    """Thread ids that start with ``prefix`` (returned without it), newest first, in one SQL query.

    ``None`` when ``saver`` keeps no SQL table (the in-memory saver): the caller then lists checkpoints.
    """
    if isinstance(saver, SqliteSaver):
        with saver.cursor(transaction=False) as cur:
            cur.execute(_THREADS_SQL["sqlite"], (len(prefix), prefix))
            return [row[0][len(prefix) :] for row in cur.fetchall()]
    if _is_postgres(saver):
        return _postgres_thread_ids(saver, prefix)
    return None


# -- SQLite ------------------------------------------------------------------------------------------------


class _BusyAwareSqliteSaver(SqliteSaver):
    """``SqliteSaver`` whose "database is locked" becomes a :class:`ConversationStoreBusyError`."""

    def __init__(self, path: Path, busy_timeout: float) -> None:
        super().__init__(sqlite3.connect(path, check_same_thread=False, timeout=busy_timeout))
        self.path = path
        self.busy_timeout = busy_timeout

    @contextmanager
    def cursor(self, transaction: bool = True) -> Iterator[sqlite3.Cursor]:
        try:
            with super().cursor(transaction) as cur:
                yield cur
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err):
                raise
            with self.lock:
                self.conn.rollback()  # never leave half a write open on the shared connection
            raise ConversationStoreBusyError(self.path, self.busy_timeout) from err


# -- PostgreSQL --------------------------------------------------------------------------------------------


def _is_postgres(saver: BaseCheckpointSaver) -> bool:
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
    except ImportError:
        return False
    return isinstance(saver, PostgresSaver)


def _postgres_thread_ids(saver: Any, prefix: str) -> list[str]:
    from psycopg.rows import tuple_row
    from psycopg_pool import ConnectionPool

    conn = saver.conn  # a pool, or one connection shared under the saver's lock
    borrowed = conn.connection() if isinstance(conn, ConnectionPool) else nullcontext(conn)
    with saver.lock, borrowed as connection:
        with connection.cursor(row_factory=tuple_row) as cur:
            cur.execute(_THREADS_SQL["postgres"], (len(prefix), prefix))
            return [row[0][len(prefix) :] for row in cur.fetchall()]


def _postgres_saver(url: str) -> BaseCheckpointSaver:
    try:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ImportError as err:
        raise ConversationStoreError(
            'PostgreSQL conversations need the postgres extra: pip install "crs-agent[postgres]".'
        ) from err
    where = _redacted(url)
    options = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    try:
        with psycopg.connect(url, connect_timeout=_PG_CONNECT_TIMEOUT, **options) as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))  # released when it closes
            PostgresSaver(connection).setup()  # creates or migrates the tables, once per database
    except psycopg.Error as err:
        raise ConversationStoreUnavailableError(where, _first_line(err)) from err
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=4,
        kwargs={**options, "connect_timeout": _PG_CONNECT_TIMEOUT},
        check=ConnectionPool.check_connection,  # a restarted server costs one reconnect, not a failed turn
        name="crs-agent-checkpoints",
        open=True,
    )
    saver = PostgresSaver(pool)
    weakref.finalize(saver, pool.close)
    return saver


def _redacted(url: str) -> str:
    """The URL without its password, for messages."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://..."
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"postgresql://{user}{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
