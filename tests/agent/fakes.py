"""A scripted fake chat model that RUNS OUT instead of cycling: an unexpected extra LLM call fails loudly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage


class ScriptExhausted(AssertionError):
    """The code under test called the LLM more often than the test scripted."""


class ScriptedChatModel(GenericFakeChatModel):
    """Replies with the scripted messages in order; ``calls`` records every prompt it was given."""

    calls: list[list[BaseMessage]] = []

    def __init__(self, replies: list[str | AIMessage], **kwargs: Any) -> None:
        messages = [r if isinstance(r, AIMessage) else AIMessage(content=r) for r in replies]
        super().__init__(messages=self._guard(iter(messages)), calls=[], **kwargs)

    @staticmethod
    def _guard(messages: Iterator[AIMessage]) -> Iterator[AIMessage]:
        yield from messages
        raise ScriptExhausted("the LLM was called more often than scripted")

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any):  # type: ignore[override]
        self.calls.append(list(messages))
        return super()._generate(messages, *args, **kwargs)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:  # the agent builds its own calls
        return self
