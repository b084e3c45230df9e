"""The agent's tools (retrieval, KG lookup, ranking, explanation, memory) as langchain-core tools."""
