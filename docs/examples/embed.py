"""Embedding crs-agent in another app: the typed Python API, then the LangGraph graph as ``langgraph dev`` serves it.

python docs/examples/embed.py          # uses the CRS_AGENT_* settings (embedded model by default)
"""

from __future__ import annotations

from crs_agent.agent import Recommender
from crs_agent.agent.server import make_graph


def main() -> None:
    # 1. The typed API: one object, conversations kept per user and thread (SQLite in the data directory).
    rec = Recommender.from_settings(top_k=3)
    reply = rec.chat("I loved Inception (2010). Something mind-bending, but no horror", user_id="ana", thread_id="demo")
    print(reply.text)
    if reply.question:  # a question worth more than a list; reply.asked says what it asks about ("star"...)
        reply = rec.chat("Leonardo DiCaprio or Tom Hardy", user_id="ana", thread_id="demo")
        print(reply.text)
    for item in reply.items:
        print(f"- {item.title} ({item.year}) score {item.score:.2f}: {item.reason}")
    if reply.items:
        rec.feedback("ana", reply.items[0].id, liked=True, thread_id="demo")  # remembered for "ana"
    print("profile:", rec.profile("ana", "demo").model_dump(exclude_defaults=True))

    # 2. The compiled LangGraph graph, as served by `langgraph dev` (langgraph.json): JSON in, JSON context.
    graph = make_graph()
    state = graph.invoke({"message": "a funny animated movie"}, context={"user_id": "ben"})
    print("graph:", state["reply"].get("asked") or [item["title"] for item in state["reply"]["items"]])


if __name__ == "__main__":
    main()
