"""The agent: a LangGraph planner over the recommender tools, its LLM backends, the public API and the CLI."""

__all__: list[str] = []
