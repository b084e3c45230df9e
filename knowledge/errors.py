"""Typed errors for misconfiguration and broken state.

Every message says what to do next. The CLI maps :class:`CrsAgentError` to a one-line message and
exit code 2; other layers re-raise these instead of inventing their own.
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "ConversationStoreBusyError",
    "ConversationStoreError",
    "ConversationStoreUnavailableError",
    "CrsAgentError",
    "DataDirBusyError",
    "EmptyMessageError",
    "IndexBusyError",
    "IndexError_",
    "IndexIncompleteError",
    "IndexMissingError",
    "ModelNotFoundError",
    "VectorStoreUnavailableError",
]


class CrsAgentError(Exception):
    """Base class: a problem the user can fix; ``str(err)`` is the one-line fix.

    Every subclass survives pickling (a worker process can raise it to its parent), whatever its
    ``__init__`` takes: the instance is rebuilt from its message and attributes, not by calling ``__init__``.
    """

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuild, (type(self), self.args, dict(self.__dict__))


def _rebuild(cls: type[CrsAgentError], args: tuple[object, ...], state: dict[str, object]) -> CrsAgentError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class EmptyMessageError(CrsAgentError, ValueError):
    """A chat message with nothing to read (empty, blanks or control characters only); nothing was stored."""

    def __init__(self) -> None:
        super().__init__("Your message is empty: say what you are looking for (something you loved, a genre, a mood).")


class ModelNotFoundError(CrsAgentError):
    """A model file or package is missing."""


class CatalogError(CrsAgentError):
    """A catalog file cannot be read, or a row is invalid and the build was asked to stop on bad rows."""


class IndexError_(CrsAgentError):  # noqa: N801 - avoid shadowing the builtin IndexError
    """Base class of index problems."""


class IndexMissingError(IndexError_):
    def __init__(self, path: object) -> None:
        super().__init__(f'No index at {path}. Run "crs-agent index" first.')


class IndexIncompleteError(IndexError_):
    def __init__(self, path: object, detail: str) -> None:
        super().__init__(f'Index at {path} is incomplete ({detail}): run "crs-agent index --rebuild".')


class IndexBusyError(IndexError_):
    def __init__(self, path: object) -> None:
        super().__init__(
            f"Another crs-agent process is building the index in {path}. "
            "Wait for it to finish, or use another data directory (CRS_AGENT_DATA_DIR)."
        )


class ConversationStoreError(CrsAgentError):
    """Base class of problems with the conversation store (the LangGraph checkpointer)."""


class ConversationStoreBusyError(ConversationStoreError):
    def __init__(self, where: object, waited: float) -> None:
        super().__init__(
            f"The conversation store {where} stayed locked by another process for {waited:g} s, so this turn was not "
            "answered. Try again, or stop the other process that holds the file "
            "(to serve one data directory from several processes, set CRS_AGENT_CHECKPOINT to a PostgreSQL URL)."
        )


class ConversationStoreUnavailableError(ConversationStoreError):
    def __init__(self, where: object, reason: str) -> None:
        super().__init__(
            f"Cannot use the conversation store at {where} ({reason}). Check that PostgreSQL is running there and "
            "that CRS_AGENT_CHECKPOINT names the right user, password and database (or set it to sqlite)."
        )


class DataDirBusyError(CrsAgentError):
    """Another process serves this data directory, whose embedded Chroma store one process at a time may write."""

    def __init__(self, path: object, pid: int | None) -> None:
        self.path, self.pid = path, pid
        holder = f"pid {pid}" if pid else "pid unknown"
        super().__init__(
            f"Another crs-agent process ({holder}) is serving the data directory {path}, and its embedded Chroma "
            "store takes one process at a time. Stop that process, use another data directory "
            "(CRS_AGENT_DATA_DIR), or share one between processes: run a Chroma server "
            "(CRS_AGENT_CHROMA=http://127.0.0.1:8000) and keep conversations in PostgreSQL "
            "(CRS_AGENT_CHECKPOINT=postgresql://user:password@host:5432/db)."
        )


class VectorStoreUnavailableError(CrsAgentError):
    def __init__(self, url: str) -> None:
        super().__init__(
            f"Cannot reach the Chroma server at {url}. Start it (chroma run --host 127.0.0.1 --port <port> "
            "--path <dir>), or set CRS_AGENT_CHROMA=embedded to keep the vectors in the data directory."
        )
