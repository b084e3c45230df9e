"""LLM backends: the embedded GGUF, an OpenAI-compatible server (real llama-cpp-python server), transformers."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from crs_agent.agent.llm import first_json_object, make_chat_model, structured, structured_result
from crs_agent.agent.llm_llamacpp import LlamaCppChat, embedded_gguf_path, get_llama, loaded_models
from crs_agent.knowledge.config import Settings
from crs_agent.knowledge.errors import CrsAgentError, ModelNotFoundError
from tests.servers import free_port, running


class Pick(BaseModel):
    intent: Literal["ask", "answer"]
    genres: list[str] = Field(max_length=3)


class BoundedPick(BaseModel):
    intent: Literal["ask", "answer"]
    genres: list[Annotated[str, Field(max_length=20)]] = Field(max_length=3)


CATALOG = " ".join(
    f"Film {i}: a {genre} movie about {topic}."
    for i, (genre, topic) in enumerate(
        [("horror", "a haunted hotel"), ("comedy", "a polite bear"), ("sci-fi", "dreams"), ("drama", "space travel")]
        * 8
    )
)
SYSTEM = SystemMessage(
    content="You route requests of a movie recommender. Answer with JSON: intent is 'ask' when the request is "
    "vague, 'answer' when it names what the user wants; genres lists the genres the user asked for. " + CATALOG
)


def _settings(**fields: object) -> Settings:
    base: dict[str, object] = {"llm_backend": "llama_cpp", "llm_model": None, "llm_base_url": None}
    base.update(fields)
    return Settings(**base)


# --- configuration, no model -------------------------------------------------------------------------------


def test_rules_backend_has_no_model() -> None:
    assert make_chat_model(_settings(llm_backend="rules")) is None


def test_openai_without_base_url_says_what_to_set() -> None:
    with pytest.raises(CrsAgentError, match="CRS_AGENT_LLM_BASE_URL"):
        make_chat_model(_settings(llm_backend="openai"))


def test_transformers_without_model_says_what_to_set() -> None:
    with pytest.raises(CrsAgentError, match="CRS_AGENT_LLM_MODEL"):
        make_chat_model(_settings(llm_backend="transformers"))


def test_transformers_hub_id_offline_is_typed() -> None:
    pytest.importorskip("langchain_huggingface")
    with pytest.raises(ModelNotFoundError, match="local model directory"):
        make_chat_model(_settings(llm_backend="transformers", llm_model="someone/not-a-cached-model"))


def test_first_json_object_skips_prose_and_fences() -> None:
    assert first_json_object('Sure! ```json\n{"a": {"b": [1, 2]}}\n``` done {"c": 1}') == {"a": {"b": [1, 2]}}
    assert first_json_object('{broken {"ok": true}') == {"ok": True}
    with pytest.raises(ValueError):
        first_json_object("[1, 2] no object here")


def test_structured_on_a_plain_chat_model_parses_or_returns_none() -> None:
    good = FakeListChatModel(responses=['Here you go: {"intent": "answer", "genres": ["horror"]}'])
    assert structured(good, Pick, [HumanMessage(content="a scary film")]) == Pick(intent="answer", genres=["horror"])
    for reply in ["no json at all", '{"intent": "maybe", "genres": []}', '{"intent": "ask", "genres": [1,2,3,4]}']:
        result = structured_result(FakeListChatModel(responses=[reply]), Pick, [HumanMessage(content="hi")])
        assert result.value is None and result.error


# --- GGUF files --------------------------------------------------------------------------------------------


def test_missing_gguf_is_typed(tmp_path: Path) -> None:
    path = tmp_path / "absent.gguf"
    with pytest.raises(ModelNotFoundError, match="absent.gguf"):
        make_chat_model(_settings(llm_model=str(path)))


def test_corrupted_gguf_is_typed(tmp_path: Path) -> None:
    path = tmp_path / "garbage.gguf"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ModelNotFoundError, match="garbage.gguf"):
        make_chat_model(_settings(llm_model=str(path)))


@pytest.mark.real_model
def test_truncated_gguf_is_typed(tmp_path: Path) -> None:
    path = tmp_path / "truncated.gguf"
    with embedded_gguf_path().open("rb") as handle:
        path.write_bytes(handle.read(1 << 20))
    with pytest.raises(ModelNotFoundError, match="truncated.gguf"):
        make_chat_model(_settings(llm_model=str(path)))
    assert str(path.resolve()) not in loaded_models()


# --- the embedded GGUF through llama.cpp -------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_chat() -> LlamaCppChat:
    model = make_chat_model(_settings())
    assert isinstance(model, LlamaCppChat)
    return model


@pytest.mark.real_model
def test_one_llama_per_path(llama_chat: LlamaCppChat) -> None:
    again = make_chat_model(_settings(llm_model=str(embedded_gguf_path())))
    assert isinstance(again, LlamaCppChat)
    assert get_llama(again.model_path) is get_llama(llama_chat.model_path)
    assert loaded_models().count(str(embedded_gguf_path().resolve())) == 1


@pytest.mark.real_model
def test_structured_with_grammar_returns_a_valid_instance(llama_chat: LlamaCppChat) -> None:
    for schema in (Pick, BoundedPick):
        result = structured_result(llama_chat, schema, [SYSTEM, HumanMessage(content="I want a horror movie.")])
        assert isinstance(result.value, schema), result.error
        assert len(result.value.genres) <= 3
        assert result.prompt_tokens and result.completion_tokens


@pytest.mark.real_model
def test_streaming_yields_several_chunks_then_usage(llama_chat: LlamaCppChat) -> None:
    chunks = list(llama_chat.stream([HumanMessage(content="Describe a good movie night.")], max_tokens=24))
    texts = [chunk.content for chunk in chunks if chunk.content]
    assert len(texts) > 1
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert whole.content == "".join(texts)
    usage = whole.usage_metadata
    assert usage and usage["input_tokens"] > 0 and 1 < usage["output_tokens"] <= 24
    if whole.response_metadata["finish_reason"] == "length":
        assert usage["output_tokens"] == 24


@pytest.mark.real_model
def test_shared_prompt_prefix_is_served_from_the_kv_cache(llama_chat: LlamaCppChat) -> None:
    first = llama_chat.invoke([SYSTEM, HumanMessage(content="Something funny for kids.")], max_tokens=8)
    second = llama_chat.invoke([SYSTEM, HumanMessage(content="A film about space, please.")], max_tokens=8)
    assert isinstance(first, AIMessage) and isinstance(second, AIMessage)
    usage = second.usage_metadata
    assert usage is not None
    cached = usage["input_token_details"]["cache_read"]
    # the system prompt (most of the input) was not evaluated again
    assert cached > usage["input_tokens"] // 2
    assert second.response_metadata["prompt_eval_tokens"] < usage["input_tokens"] - cached + 4


@pytest.mark.real_model
def test_concurrent_calls_are_serialised(llama_chat: LlamaCppChat) -> None:
    replies: list[BaseMessage] = []
    errors: list[BaseException] = []

    def ask(question: str) -> None:
        try:
            replies.append(llama_chat.invoke([HumanMessage(content=question)], max_tokens=6))
        except BaseException as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=ask, args=(q,)) for q in ("Hello!", "Name a film.", "Any comedy?")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(replies) == 3


# --- openai backend against a real llama-cpp-python server -------------------------------------------------


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("sse_starlette") is None or importlib.util.find_spec("starlette_context") is None:
        pytest.skip('needs the server extras: pip install "llama-cpp-python[server]"')
    port = free_port()
    args = [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf_path())]
    args += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--verbose", "False"]
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running(args, f"http://127.0.0.1:{port}/v1/models", log):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.mark.real_model
def test_openai_backend_against_a_real_server(llama_server: str) -> None:
    model = make_chat_model(_settings(llm_backend="openai", llm_base_url=llama_server))
    assert model is not None
    reply = model.invoke([HumanMessage(content="Say hello.")], max_tokens=8)
    assert isinstance(reply, AIMessage) and isinstance(reply.content, str) and reply.content
    for _ in range(2):  # the second call uses the response_format the first one found
        result = structured_result(model, Pick, [SYSTEM, HumanMessage(content="Recommend a comedy.")])
        assert isinstance(result.value, Pick), result.error
        assert result.prompt_tokens and result.completion_tokens


def test_openai_backend_with_the_server_down_returns_none() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    model = make_chat_model(_settings(llm_backend="openai", llm_base_url=url), timeout=2)
    assert model is not None
    result = structured_result(model, Pick, [HumanMessage(content="anything")])
    assert result.value is None and "Connection" in (result.error or "")
    assert structured(model, Pick, [HumanMessage(content="anything")]) is None


# --- transformers backend with a tiny random model built here ----------------------------------------------

WORDS = ["<unk>", "<pad>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>", "{", "}", "[", "]", ":", ",", '"']
WORDS += ["intent", "ask", "answer", "genres", "horror", "comedy", "drama", "hello", "movie", "a", "the", "json"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} </s> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


@pytest.fixture(scope="module")
def tiny_transformers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-llama")
    backend = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece(prefix="##")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        vocab_size=len(WORDS),
        max_position_embeddings=4096,
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=1,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_transformers_backend_with_a_tiny_local_model(tiny_transformers_dir: Path) -> None:
    pytest.importorskip("langchain_huggingface")
    model = make_chat_model(_settings(llm_backend="transformers", llm_model=str(tiny_transformers_dir)))
    assert model is not None
    reply = model.invoke([HumanMessage(content="hello movie")])
    assert isinstance(reply, AIMessage) and isinstance(reply.content, str)
    result = structured_result(model, Pick, [HumanMessage(content="a horror movie")])
    assert result.value is None or isinstance(result.value, Pick)
    assert (result.value is None) == (result.error is not None)
