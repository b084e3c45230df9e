"""LLM backends behind one interface: :func:`make_chat_model` and :func:`structured`.

Backends (``Settings.llm_backend``): ``llama_cpp`` (default, the embedded GGUF, see
:mod:`crs_agent.agent.llm_llamacpp`), ``openai`` (any OpenAI-compatible server through
``langchain_openai.ChatOpenAI``), ``transformers`` (a local model through ``langchain_huggingface``,
which works with transformers 5.x) and ``rules`` (no model: ``None``, the agent stays deterministic).

Every structured step calls :func:`structured`; it never raises for a model failure (bad JSON, schema
mismatch, server down, timeout) but returns ``None`` so the caller falls back to its rules.
:func:`structured_result` returns the same plus token usage and the reason of a failure.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pydantic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from crs_agent.agent.llm_llamacpp import PACKAGED, LlamaCppChat, get_llama, packaged_gguf_path
from crs_agent.knowledge.config import Settings
from crs_agent.knowledge.errors import CrsAgentError, ModelNotFoundError

__all__ = [
    "StructuredResult",
    "first_json_object",
    "make_chat_model",
    "model_failures",
    "structured",
    "structured_result",
]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=pydantic.BaseModel)

# How an OpenAI-compatible server accepts a schema, most precise first. llama-cpp-python's server rejects
# "json_schema" (HTTP 500) but takes the "schema" extension of "json_object"; llama.cpp's llama-server
# takes both. The mode that worked is remembered per base URL so only the first call probes.
_OPENAI_MODES = ("json_schema", "json_object_schema", "json_object")
_OPENAI_MODE_BY_URL: dict[str, str] = {}
_REJECTED_STATUS = {400, 404, 415, 422, 500, 501}

DEFAULT_GGUF = "smollm2-135m"  # the embedded model (see the README for how it compares with gemma3-270m)


@dataclass(frozen=True)
class StructuredResult(Generic[M]):
    """``value`` is the validated instance or ``None``; ``error`` says why it is ``None``; ``unavailable``
    means the model gave no answer at all (server down, slow or garbled, model crashed), not a bad one."""

    value: M | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    unavailable: bool = False


def make_chat_model(settings: Settings, *, timeout: float | None = None) -> BaseChatModel | None:
    """The chat model for ``settings.llm_backend``; ``None`` for ``"rules"``.

    Loads local models now, so a bad model path fails at start-up with a :class:`CrsAgentError`.
    ``timeout`` (seconds, default ``settings.llm_timeout``) applies to the ``openai`` backend's requests.
    """
    timeout = settings.llm_timeout if timeout is None else timeout
    backend = settings.llm_backend
    if backend == "rules":
        return None
    if backend == "llama_cpp":
        name = settings.llm_model or DEFAULT_GGUF
        path = packaged_gguf_path(name, settings.data_dir / "models") if name in PACKAGED else Path(name).expanduser()
        get_llama(path)
        return LlamaCppChat(model_path=str(path))
    if backend == "openai":
        return _openai_chat(settings, timeout=timeout)
    if backend == "transformers":
        return _transformers_chat(settings)
    raise CrsAgentError(f"Unknown LLM backend {backend!r}: use llama_cpp, openai, transformers or rules.")


def _openai_chat(settings: Settings, *, timeout: float) -> BaseChatModel:
    if not settings.llm_base_url:
        raise CrsAgentError(
            "The openai backend needs a server: set CRS_AGENT_LLM_BASE_URL (e.g. http://127.0.0.1:8080/v1)."
        )
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as err:
        raise ModelNotFoundError('The openai backend needs langchain-openai: pip install "crs-agent[openai]".') from err
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model or "default",
        api_key=os.environ.get("OPENAI_API_KEY") or "not-needed",
        timeout=timeout,
        max_retries=1,
        temperature=0.2,
    )


def _transformers_chat(settings: Settings) -> BaseChatModel:
    model_id = settings.llm_model
    if not model_id:
        raise CrsAgentError(
            "The transformers backend needs a model: set CRS_AGENT_LLM_MODEL to a local model directory."
        )
    try:
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    except ImportError as err:
        raise ModelNotFoundError(
            'The transformers backend needs langchain-huggingface: pip install "crs-agent[hf]".'
        ) from err
    try:
        llm = HuggingFacePipeline.from_model_id(
            model_id=model_id,
            task="text-generation",
            pipeline_kwargs={"max_new_tokens": 256, "return_full_text": False, "do_sample": True, "temperature": 0.2},
        )
    except (OSError, ValueError) as err:
        raise ModelNotFoundError(
            f"Cannot load transformers model {model_id!r} ({_first_line(err)}): set CRS_AGENT_LLM_MODEL "
            "to a local model directory (nothing is downloaded when HF_HUB_OFFLINE=1)."
        ) from err
    tokenizer = llm.pipeline.tokenizer
    if not getattr(tokenizer, "chat_template", None):
        raise ModelNotFoundError(f"{model_id} has no chat template: use an instruct/chat model directory.")
    return ChatHuggingFace(llm=llm, tokenizer=tokenizer)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def first_json_object(text: str) -> Any:
    """The first JSON object in ``text`` (models wrap JSON in prose or code fences); ``ValueError`` if none."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    raise ValueError(f"no JSON object in the model output: {text[:80]!r}")


def model_failures() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the model did not deliver": bad output, server down or slow, llama.cpp errors."""
    failures: list[type[BaseException]] = [ValueError, RuntimeError, pydantic.ValidationError, TimeoutError]
    # a server answering 200 with something that is not a chat completion (HTML, other JSON): the openai SDK
    # and langchain-openai fail while reading it with these
    failures += [TypeError, AttributeError, LookupError]
    try:
        import openai

        failures.append(openai.OpenAIError)  # the base of every error of the SDK (connection, timeout, status)
    except ImportError:
        pass
    for name in ("httpx", "httpx2"):  # the openai SDK wraps these, other clients may not
        try:
            failures.append(importlib.import_module(name).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(failures)


def _json_schema(schema: type[pydantic.BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()


def _with_json_instruction(messages: list[BaseMessage], schema: type[pydantic.BaseModel]) -> list[BaseMessage]:
    """Append the schema to the request; at the end so the shared prompt prefix stays cacheable."""
    instruction = "Reply with only one JSON object, no prose, that matches this JSON schema:\n" + json.dumps(
        _json_schema(schema), separators=(",", ":")
    )
    last = messages[-1] if messages else None
    if isinstance(last, HumanMessage) and isinstance(last.content, str):
        return [*messages[:-1], HumanMessage(content=f"{last.content}\n\n{instruction}")]
    return [*messages, HumanMessage(content=instruction)]


def _usage(message: BaseMessage) -> tuple[int | None, int | None]:
    usage = getattr(message, "usage_metadata", None)
    if not usage:
        return None, None
    return usage.get("input_tokens"), usage.get("output_tokens")


def _invoke_llama(model: LlamaCppChat, schema: type[pydantic.BaseModel], messages: list[BaseMessage]) -> AIMessage:
    return model.invoke(messages, response_format={"type": "json_object", "schema": _json_schema(schema)})


def _openai_response_format(mode: str, schema: type[pydantic.BaseModel]) -> dict[str, Any]:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": _json_schema(schema)}}
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": _json_schema(schema)}
    return {"type": "json_object"}


def _invoke_openai(model: BaseChatModel, schema: type[pydantic.BaseModel], messages: list[BaseMessage]) -> AIMessage:
    """Try the remembered mode, else each mode in turn while the server rejects the request format."""
    import openai

    url = str(getattr(model, "openai_api_base", None) or "")
    modes = [_OPENAI_MODE_BY_URL[url]] if url in _OPENAI_MODE_BY_URL else list(_OPENAI_MODES)
    for index, mode in enumerate(modes):
        request = _with_json_instruction(messages, schema) if mode == "json_object" else messages
        try:
            message = model.invoke(request, response_format=_openai_response_format(mode, schema))
        except openai.APIStatusError as err:
            if err.status_code not in _REJECTED_STATUS or index == len(modes) - 1:
                raise
            log.debug("server at %s rejected response_format %s (%s); trying the next", url, mode, err.status_code)
            continue
        _OPENAI_MODE_BY_URL[url] = mode
        return message
    raise RuntimeError("no response_format mode to try")  # unreachable: the loop returns or raises


def _is_openai(model: BaseChatModel) -> bool:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        return False
    return isinstance(model, ChatOpenAI)


def structured_result(model: BaseChatModel, schema: type[M], messages: list[BaseMessage]) -> StructuredResult[M]:
    """Ask ``model`` for one ``schema`` instance; never raises for a model failure (see :class:`StructuredResult`).

    llama.cpp: grammar-constrained JSON from the schema (bounds such as maxLength/maxItems kept).
    ChatOpenAI: ``response_format`` json_schema, else llama-cpp-python's json_object+schema, else json_object.
    Other models: the schema is appended to the last user message and the first JSON object is parsed.
    """
    prompt_tokens = completion_tokens = None
    try:
        if isinstance(model, LlamaCppChat):
            message = _invoke_llama(model, schema, messages)
        elif _is_openai(model):
            message = _invoke_openai(model, schema, messages)
        else:
            message = model.invoke(_with_json_instruction(messages, schema))
        prompt_tokens, completion_tokens = _usage(message)
        value = schema.model_validate(first_json_object(message.text))
    except model_failures() as err:
        reason = f"{type(err).__name__}: {_first_line(err)}"
        log.debug("structured %s failed, caller falls back: %s", schema.__name__, reason)
        unavailable = not isinstance(err, ValueError)  # ValueError: it answered, but not with what was asked
        return StructuredResult(None, prompt_tokens, completion_tokens, reason, unavailable)
    return StructuredResult(value, prompt_tokens, completion_tokens)


def structured(model: BaseChatModel, schema: type[M], messages: list[BaseMessage]) -> M | None:
    """A validated ``schema`` instance from ``model``, or ``None`` on any model failure (logged at debug level)."""
    return structured_result(model, schema, messages).value
