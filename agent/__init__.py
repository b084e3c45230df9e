"""The agent: a LangGraph planner over the recommender tools, its LLM backends, the public API and the CLI.

from crs_agent.agent import Recommender
rec = Recommender.from_settings()            # bundled movies, embedded SmolLM2, SQLite conversations
reply = rec.chat("something like Inception, but no horror", user_id="ana", thread_id="1")
"""

from crs_agent.agent.api import Recommender, Reply, StreamEvent, Trace
from crs_agent.agent.graph import build_graph
from crs_agent.agent.llm import make_chat_model
from crs_agent.agent.respond import ReplyItem
from crs_agent.knowledge import Settings

__all__ = ["Recommender", "Reply", "ReplyItem", "Settings", "StreamEvent", "Trace", "build_graph", "make_chat_model"]
