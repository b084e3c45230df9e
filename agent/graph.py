"""The whole LangGraph graph: understand -> plan <-> act, plan -> reflect -> (plan | respond), plan -> respond.

Node bodies live in their own modules; routers are named ``route_*`` and return node names.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode

from crs_agent.agent.planner import plan
from crs_agent.agent.reflect import reflect
from crs_agent.agent.respond import respond
from crs_agent.agent.state import Deps, InputState, State
from crs_agent.agent.understand import understand

__all__ = ["build_graph", "route_plan", "route_reflect"]


def route_plan(state: State) -> Literal["act", "reflect", "respond"]:
    """A tool call goes to act; an answer is checked by reflect first; a question goes straight out."""
    messages = state.get("messages", [])
    if messages and getattr(messages[-1], "tool_calls", None):
        return "act"
    if state.get("decision", {}).get("action") == "ask":
        return "respond"
    return "reflect"


def route_reflect(state: State) -> Literal["plan", "respond"]:
    """A failed check goes back to plan with its reason, unless the step budget is spent."""
    verdicts = state.get("verdicts", [])
    return "plan" if verdicts and verdicts[-1].get("retry") else "respond"


def build_graph(tools: list[BaseTool], context_schema: type = Deps) -> StateGraph:
    """The uncompiled graph; ``context_schema`` is :class:`Deps`, or a JSON schema when served (see server.py)."""
    graph = StateGraph(State, context_schema=context_schema, input_schema=InputState)
    graph.add_node("understand", understand)
    graph.add_node("plan", plan)
    graph.add_node("act", ToolNode(tools, handle_tool_errors=True))
    graph.add_node("reflect", reflect)
    graph.add_node("respond", respond)
    graph.add_edge(START, "understand")
    graph.add_edge("understand", "plan")
    graph.add_conditional_edges("plan", route_plan, ["act", "reflect", "respond"])
    graph.add_edge("act", "plan")
    graph.add_conditional_edges("reflect", route_reflect, ["plan", "respond"])
    graph.add_edge("respond", END)
    return graph
