"""The graph as LangGraph's server wants it: ``langgraph dev`` serves :func:`make_graph` (see ``langgraph.json``).

LangGraph's server passes only JSON as a run's context, so the served graph takes a :class:`ServerContext`
(``{"user_id": "ana", "top_k": 3}``) and builds the :class:`~crs_agent.agent.state.Deps` from the one
knowledge base, toolkit and LLM of the process, all configured by the usual ``CRS_AGENT_*`` settings.
The server brings its own checkpointer (threads); the input is ``{"message": "..."}``.

    pip install "langgraph-cli[inmem]" && langgraph dev      # from the repository root
"""

from __future__ import annotations

from typing import Any

from langgraph.graph.state import CompiledStateGraph
from typing_extensions import TypedDict

from crs_agent.agent.graph import build_graph
from crs_agent.agent.llm import make_chat_model
from crs_agent.agent.state import Deps, set_default_deps
from crs_agent.knowledge import Settings, ensure_index
from crs_agent.tools import Toolkit
from crs_agent.tools.linker import Linker

__all__ = ["ServerContext", "make_graph"]


class ServerContext(TypedDict, total=False):
    """The JSON run context of the served graph; everything is optional."""

    user_id: str
    top_k: int


def make_graph(settings: Settings | None = None) -> CompiledStateGraph:
    """Load (building if needed) the index and the LLM once, and compile the graph with a JSON context."""
    settings = settings if isinstance(settings, Settings) else Settings()
    knowledge = ensure_index(settings)
    toolkit, linker, llm = Toolkit(knowledge), Linker(knowledge.catalog, knowledge.kg), make_chat_model(settings)

    def deps(context: dict[str, Any]) -> Deps:
        user_id = str(context.get("user_id") or "default").strip() or "default"
        top_k = max(1, min(int(context.get("top_k") or 3), 10))
        return Deps(toolkit, linker, user_id, llm, top_k=top_k, **Deps.configured(knowledge.settings, llm))

    set_default_deps(deps)
    return build_graph(toolkit.tools(), context_schema=ServerContext).compile()
