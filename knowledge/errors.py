"""Typed errors for misconfiguration and broken state.

Every message says what to do next. The CLI maps :class:`CrsAgentError` to a one-line message and
exit code 2; other layers re-raise these instead of inventing their own.
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "CrsAgentError",
    "IndexBusyError",
    "IndexError_",
    "IndexIncompleteError",
    "IndexMissingError",
    "ModelNotFoundError",
]


class CrsAgentError(Exception):
    """Base class: a problem the user can fix; ``str(err)`` is the one-line fix."""


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
