"""The LLM on a separate OpenAI-compatible server: a full ``Recommender`` turn over the ``openai`` backend against
the real llama-cpp-python server (``python -m llama_cpp.server`` with the embedded GGUF, on 127.0.0.1)."""

from __future__ import annotations

import pytest
from langchain_core.callbacks import UsageMetadataCallbackHandler

from crs_agent.agent import Recommender

pytestmark = [pytest.mark.scale, pytest.mark.real_model]


def test_a_full_turn_uses_the_model_on_the_server(tiny_knowledge, llama_server: str) -> None:
    settings = tiny_knowledge.settings.model_copy(
        update={"llm_backend": "openai", "llm_base_url": llama_server, "llm_timeout": 120.0, "llm_model": None}
    )
    rec = Recommender.from_settings(settings)
    assert type(rec.llm).__name__ == "ChatOpenAI"
    usage = UsageMetadataCallbackHandler()
    rec.llm.callbacks = [usage]  # type: ignore[union-attr]
    reply = rec.chat("I loved Inception. Something mind-bending, but no horror", user_id="ana", thread_id="t1")
    assert not [notice for notice in reply.notices if "language model failed" in notice]
    assert reply.items and all("horror" not in rec.knowledge.catalog[i.id].genres for i in reply.items)
    assert reply.text.strip() and rec.history("ana", "t1")[-1] == ("ai", reply.text)
    # the model on the server was called during the turn (the opener, at least) and reported its token usage
    tokens = list(usage.usage_metadata.values())
    assert tokens and sum(t["input_tokens"] for t in tokens) > 0 and sum(t["output_tokens"] for t in tokens) > 0
