"""Bad input gets a clear message and leaves the conversation as it was: through the Python API, the web
chat's callbacks and the HTTP API. Broken parts (the Chroma store, an OpenAI-compatible server) degrade
with a message that says what to do, never a traceback."""

from __future__ import annotations

import json
import shutil
import threading
import time
import unicodedata
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from chromadb.api.client import SharedSystemClient
from gradio_client import Client
from gradio_client.exceptions import AppError

from crs_agent.agent import Recommender
from crs_agent.agent.llm import make_chat_model
from crs_agent.agent.understand import MAX_MESSAGE_CHARS
from crs_agent.knowledge import CrsAgentError, IndexIncompleteError, build_index, ensure_index, load_knowledge
from crs_agent.knowledge.errors import EmptyMessageError
from crs_agent.knowledge.index import index_status
from crs_agent.ui.app import build_app, launch_app
from crs_agent.ui.callbacks import ChatCallbacks
from tests.agent.fakes import ScriptedChatModel
from tests.servers import free_port

ASK = "I loved Inception (2010). Something mind-bending, but no horror"
EMPTY = ["", "   ", "\n\t \r\n", "\x00\x1b\x7f\x07", "\u200b\u2060\ufeff", None]


@pytest.fixture
def rec(tiny_knowledge) -> Recommender:
    return Recommender(tiny_knowledge)


def _state(rec: Recommender, user_id: str, thread_id: str) -> tuple[object, ...]:
    memory = sorted(r.text for r in rec.knowledge.memory.all(user_id))
    return rec.history(user_id, thread_id), rec.profile(user_id, thread_id), rec.threads(user_id), memory


# -- the Python API -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", EMPTY)
def test_an_empty_message_is_refused_clearly_and_changes_nothing(rec: Recommender, bad: str | None):
    rec.chat(ASK, "ana", "t1")
    before, last = _state(rec, "ana", "t1"), rec.last_reply("ana", "t1")
    with pytest.raises(EmptyMessageError, match="^Your message is empty: say what you are looking for") as err:
        rec.chat(bad, "ana", "t1")  # type: ignore[arg-type]  # None arrives from HTTP clients
    assert isinstance(err.value, ValueError) and isinstance(err.value, CrsAgentError)
    with pytest.raises(EmptyMessageError):
        next(rec.stream(bad, "ana", "t1"))  # type: ignore[arg-type]
    with pytest.raises(EmptyMessageError):
        rec.chat(bad, "ana", "t2")  # type: ignore[arg-type]
    assert _state(rec, "ana", "t1") == before and rec.last_reply("ana", "t1") == last
    assert rec.threads("ana") == ["t1"], "an empty message opened a conversation"


def test_a_huge_message_is_cut_with_a_notice_and_only_its_start_reaches_the_llm(tiny_knowledge):
    head = "I loved Inception (2010). Something mind-bending, but no horror. "
    kept = head + "x" * (MAX_MESSAGE_CHARS - len(head))
    message = kept + "TAILMARKER " + "more words " * 18_000 + "end"
    assert len(message) > 200_000
    llm = ScriptedChatModel(["no JSON here"] * 12)  # every structured step falls back to the rules
    rec = Recommender(tiny_knowledge, llm)
    reply = rec.chat(message, "ana", "t1")
    notice = f"Your message was {len(message):,} characters; I read the first {MAX_MESSAGE_CHARS:,}."
    assert reply.notices[0] == notice and reply.text.startswith(notice + "\n")
    assert reply.items and all("horror" not in item.genres for item in reply.items)
    assert llm.calls, "the LLM was never asked"
    prompts = [str(m.content) for call in llm.calls for m in call]
    assert not any("TAILMARKER" in p for p in prompts)
    assert max(len(p) for p in prompts) < MAX_MESSAGE_CHARS + 3_000  # the message part plus a JSON schema
    stored = rec.graph.get_state(rec._config("ana", "t1")).values  # what the checkpointer keeps
    assert stored["message"] == kept and rec.history("ana", "t1")[0] == ("human", kept)

    events = list(rec.stream(message, "ana", "t2"))
    streamed = "".join(e.text for e in events if e.kind == "token")
    final = events[-1].reply
    assert final is not None and final.notices[0] == notice and streamed == final.text


def test_control_characters_and_invalid_unicode_are_cleaned_before_the_graph(rec: Recommender):
    raw = b"I loved Incep\x00tion (2010)\x1b[0m.\tSomething \xff\xfe mind-bending,\r\nbut no horror\x07"
    message = raw.decode("utf-8", "surrogateescape") + " \ud800"  # how Python carries invalid UTF-8
    reply = rec.chat(message, "ana", "t1")
    said = rec.history("ana", "t1")[0][1]
    said.encode("utf-8")  # valid text now: no lone surrogates
    assert not [ch for ch in said if unicodedata.category(ch)[0] == "C" and ch not in "\n\t"]
    assert "\t" in said and "\n" in said and "Inception (2010)" in said
    profile = rec.profile("ana", "t1")
    assert profile.liked_ids == ["1"] and profile.exclude_genres == ["horror"]
    assert reply.items and all("horror" not in item.genres for item in reply.items)


@pytest.mark.parametrize(
    ("message", "liked"),
    [
        ("Je voudrais un film comme Inception, mais pas d'horreur", ["1"]),
        ("Ich möchte einen Film wie Interstellar sehen", ["2"]),
        ("أريد فيلما مثل Inception", ["1"]),
        ("🍿🎬 something like Inception 🚀✨", ["1"]),
        ("\u200fInception\u200f אני אוהב", ["1"]),
        ("インセプションのような映画が見たい", []),
        ("😀😀😀", []),
    ],
)
def test_other_languages_and_emoji_get_a_normal_reply(rec: Recommender, message: str, liked: list[str]):
    reply = rec.chat(message, "ana", "t1")
    assert reply.text and (reply.items or reply.question)
    assert rec.profile("ana", "t1").liked_ids == liked
    if liked:  # a list, or a question worth more than one: either way over a ranking without the seen movie
        assert reply.trace.ranked and liked[0] not in reply.trace.ranked


def test_unknown_ids_are_ignored_with_a_notice(rec: Recommender):
    reply = rec.chat("I loved @999999 and @1, and @424242 too", "ana", "t1")
    assert rec.profile("ana", "t1").liked_ids == ["1"] and reply.items
    assert reply.notices[0] == "I don't know @999999, @424242 in this catalog, so I ignored them."
    alone = rec.chat("@999999", "bob", "t1")  # bob: no memory of ana's Inception to start from
    assert alone.question and alone.notices == ["I don't know @999999 in this catalog, so I ignored it."]
    assert rec.profile("bob", "t1").liked_ids == []


# -- the web chat and the HTTP API --------------------------------------------------------------------------


def test_the_web_chat_says_what_is_wrong_with_an_empty_message(tiny_knowledge, tiny_settings):
    ui = ChatCallbacks(Recommender(tiny_knowledge, ScriptedChatModel([])), tiny_settings)  # never called
    views = list(ui.send("  \n ", "ana", "t1"))
    assert [v.notice for v in views] == [str(EmptyMessageError())] and views[0].messages is None
    views = list(ui.send("\x00\x07", "ana", "t1"))  # not blank to str.strip, empty once cleaned
    assert views[-1].messages[-1]["content"] == f"⚠️ {EmptyMessageError()}"
    assert not any("language model failed" in m["content"] for v in views if v.messages for m in v.messages)
    assert ui.rec.threads("ana") == []


@pytest.fixture
def served(tiny_knowledge, tiny_settings) -> Iterator[str]:
    app = build_app(Recommender(tiny_knowledge), tiny_settings)
    url = launch_app(app, port=free_port(), block=False)
    try:
        yield url
    finally:
        app.close()


def _call_raw(url: str, body: bytes) -> tuple[int, str]:
    """POST a raw body to /chat the way curl would, then read the result's event stream."""
    base = url.rstrip("/") + "/gradio_api/call/chat"
    posted = httpx.post(base, content=body, headers={"Content-Type": "application/json"}, timeout=30)
    if posted.status_code != 200:
        return posted.status_code, posted.text
    result = httpx.get(f"{base}/{posted.json()['event_id']}", timeout=60)
    return result.status_code, result.text


def test_the_http_api_answers_bad_text_with_one_line_errors(served: str):
    client = Client(served, verbose=False)
    for bad in ("", "   ", "\x00\x07", None):
        with pytest.raises(AppError, match="Your message is empty") as err:
            client.predict(bad, "ana", "t1", api_name="/chat")
        assert "Traceback" not in str(err.value)
    assert client.predict("ana", api_name="/threads") == []
    # a lone surrogate in JSON ("\ud800" escape) and control characters: cleaned, then a normal answer
    status, text = _call_raw(served, json.dumps({"data": [ASK + " \ud800\x00", "ana", "t1"]}).encode())
    assert status == 200 and "event: complete" in text, text
    reply = json.loads(text.split("data:", 1)[1].strip())[0]
    assert reply["items"] and all("horror" not in item["genres"] for item in reply["items"])
    # bytes that are not UTF-8 at all: refused by the server with a short error, and it keeps serving
    status, text = _call_raw(served, b'{"data": ["I loved Inception \xff\xfe", "ana", "t2"]}')
    assert 400 <= status < 500 and "Traceback" not in text and len(text) < 2_000, (status, text)
    assert client.predict(ASK, "bob", "t1", api_name="/chat")["items"]


# -- a missing or corrupted Chroma store ----------------------------------------------------------------------


def _as_a_new_process() -> None:
    SharedSystemClient.clear_system_cache()  # Chroma caches one client per path within a process


def test_a_missing_chroma_directory_is_named_and_rebuilt_on_start(tiny_settings):
    build_index(tiny_settings, progress=False)
    shutil.rmtree(tiny_settings.chroma_dir)
    _as_a_new_process()
    with pytest.raises(IndexIncompleteError, match='run "crs-agent index --rebuild"'):
        load_knowledge(tiny_settings)
    said: list[str] = []
    knowledge = ensure_index(tiny_settings, progress=False, say=said.append)  # what chat and ui start with
    assert said == ["Index is incomplete: building it now (about a minute the first time)."]
    assert Recommender(knowledge).chat(ASK, "ana", "t1").items


@pytest.mark.parametrize("repair", ["crs-agent index --rebuild", "start-up"])
def test_a_corrupted_chroma_store_says_to_rebuild_and_a_rebuild_repairs_it(tiny_settings, caplog, repair: str):
    build_index(tiny_settings, progress=False)
    (tiny_settings.chroma_dir / "chroma.sqlite3").write_bytes(b"this is not a database " * 500)
    _as_a_new_process()
    with pytest.raises(IndexIncompleteError, match="the Chroma store cannot be read.*index --rebuild"):
        load_knowledge(tiny_settings)
    assert index_status(tiny_settings) == "incomplete"  # asking twice in one process gives the same answer
    if repair == "start-up":  # chat and the web app: in this same process
        knowledge = ensure_index(tiny_settings, progress=False, say=lambda _: None)
    else:
        build_index(tiny_settings, rebuild=True, progress=False)
        knowledge = load_knowledge(tiny_settings)
    assert Recommender(knowledge).chat(ASK, "ana", "t1").items
    kept = list(tiny_settings.data_dir.glob("chroma.unreadable-*"))
    assert len(kept) == 1 and (kept[0] / "chroma.sqlite3").read_bytes().startswith(b"this is not a database")
    assert f"moved it to {kept[0]}" in caplog.text


# -- an OpenAI-compatible server that is down, slow or talks nonsense ---------------------------------------


class _BrokenServer(BaseHTTPRequestHandler):
    mode = "slow"
    requests = 0

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "slow":
            time.sleep(1.0)  # past llm_timeout (0.3 s)
            body, status, kind = b'{"choices": []}', 200, "application/json"
        elif self.mode == "not-json":
            body, status, kind = b"<html><body>502 upstream exploded</body></html>", 200, "text/html"
        elif self.mode == "wrong-shape":
            body, status, kind = b'{"id": "x", "object": "chat.completion", "result": "hello"}', 200, "application/json"
        else:  # "http-500"
            body, status, kind = b'{"error": {"message": "model crashed"}}', 500, "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up waiting (the slow mode): nothing to answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def llm_url(request: pytest.FixtureRequest) -> Iterator[str]:
    mode = request.param
    if mode == "down":
        yield f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
        return
    handler = type("Handler", (_BrokenServer,), {"mode": mode, "requests": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1"
        assert handler.requests > 0, "the model was never asked"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("llm_url", ["down", "slow", "not-json", "wrong-shape", "http-500"], indirect=True)
def test_a_broken_llm_server_degrades_to_the_rules_backend_and_says_so(tiny_knowledge, tiny_settings, llm_url):
    settings = tiny_settings.model_copy(update={"llm_backend": "openai", "llm_base_url": llm_url, "llm_timeout": 0.3})
    rec = Recommender(tiny_knowledge, make_chat_model(settings))
    reply = rec.chat(ASK, "ana", "t1")
    rules = Recommender(tiny_knowledge).chat(ASK, "bob", "t1")
    assert [i.id for i in reply.items] == [i.id for i in rules.items] and reply.items
    assert any(n.startswith("The language model failed") for n in reply.notices), reply.notices
    question = rec.chat("hello there", "ana", "t2")
    assert question.question and any(n.startswith("The language model failed") for n in question.notices)
