"""Two users never see each other's memory, profile, threads or history, through the Python API and through the
HTTP API, even when user B names user A's thread id; B taking entries back never touches A.

One scenario, run once per API (``api`` is a thin driver over either); memory is read from the store behind
both. The recommender is the one ``crs-agent ui`` serves: ``from_settings``, SQLite conversations, rules backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crs_agent.agent import Recommender
from crs_agent.knowledge import Settings
from crs_agent.tools import Profile

ANA_SAYS = "I loved Inception (2010) but I hated Paddington (2014). No horror please, and nothing with Christian Bale"
BOB_SAYS = "Something scary please, a horror film"
THREAD = "t1"  # both users' thread id


class PythonApi:
    def __init__(self, rec: Recommender) -> None:
        self.rec = rec

    def chat(self, message: str, user: str, thread: str) -> dict[str, Any]:
        return self.rec.chat(message, user_id=user, thread_id=thread).model_dump(mode="json")

    def feedback(self, user: str, item_id: str, liked: bool, thread: str) -> None:
        self.rec.feedback(user, item_id, liked, thread_id=thread)

    def profile(self, user: str, thread: str) -> dict[str, Any]:
        return self.rec.profile(user, thread).model_dump(mode="json")

    def forget(self, user: str, field: str, value: str, thread: str) -> dict[str, Any]:
        return self.rec.forget(user, field, value, thread_id=thread).model_dump(mode="json")  # type: ignore[arg-type]

    def threads(self, user: str) -> list[str]:
        return self.rec.threads(user)

    def history(self, user: str, thread: str) -> list[list[str]]:
        return [list(pair) for pair in self.rec.history(user, thread)]


class HttpApi(PythonApi):
    """The same calls through ``gradio_client`` against the served app."""

    def __init__(self, rec: Recommender, client: Any) -> None:
        super().__init__(rec)
        self.client = client

    def chat(self, message: str, user: str, thread: str) -> dict[str, Any]:
        return self.client.predict(message, user, thread, api_name="/chat")

    def feedback(self, user: str, item_id: str, liked: bool, thread: str) -> None:
        self.client.predict(user, item_id, liked, thread, api_name="/feedback")

    def profile(self, user: str, thread: str) -> dict[str, Any]:
        return self.client.predict(user, thread, api_name="/profile")

    def forget(self, user: str, field: str, value: str, thread: str) -> dict[str, Any]:
        return self.client.predict(user, field, value, thread, api_name="/forget")

    def threads(self, user: str) -> list[str]:
        return self.client.predict(user, api_name="/threads")

    def history(self, user: str, thread: str) -> list[list[str]]:
        return self.client.predict(user, thread, api_name="/history")


@pytest.fixture(params=["python", "http"])
def api(request: pytest.FixtureRequest, tiny_settings: Settings) -> Iterator[PythonApi]:
    settings = tiny_settings.model_copy(update={"llm_backend": "rules", "checkpoint": "sqlite"})
    rec = Recommender.from_settings(settings)
    if request.param == "python":
        yield PythonApi(rec)
        rec.close()
        return
    from gradio_client import Client

    from crs_agent.ui.app import build_app, launch_app
    from tests.servers import free_port

    app = build_app(rec, settings)
    try:
        yield HttpApi(rec, Client(launch_app(app, port=free_port(), block=False), verbose=False))
    finally:
        app.close()
        rec.close()


def _memory(api: PythonApi, user: str) -> set[tuple[str, str, str]]:
    return {(r.id, r.user_id, r.text) for r in api.rec.knowledge.memory.all(user)}


def _ana(api: PythonApi) -> dict[str, Any]:
    """Everything of Ana's that Bob must neither see nor change."""
    return {
        "profile": api.profile("ana", THREAD),
        "history": api.history("ana", THREAD),
        "threads": api.threads("ana"),
        "memory": _memory(api, "ana"),
    }


def _reasons_name_none_of(api: PythonApi, items: list[dict[str, Any]], item_ids: set[str]) -> None:
    """No reason refers to these items (the other user's likes and dislikes), except an item's own title."""
    titles = {api.rec.knowledge.catalog[i].title for i in item_ids}
    for item in items:
        assert not any(title in item["reason"] for title in titles - {item["title"]}), item["reason"]


def test_user_b_on_user_a_thread_id_sees_and_changes_nothing_of_a(api: PythonApi):
    first = api.chat(ANA_SAYS, "ana", THREAD)
    api.feedback("ana", first["items"][0]["id"], True, THREAD)
    api.feedback("ana", "4", False, THREAD)  # The Matrix
    ana = _ana(api)
    assert ana["profile"]["exclude_genres"] == ["horror"] and ana["profile"]["exclude_people"] == ["Christian Bale"]
    assert {"1", first["items"][0]["id"]} <= set(ana["profile"]["liked_ids"])
    assert {"4", "5"} <= set(ana["profile"]["disliked_ids"]) and len(ana["memory"]) == 6

    # Bob names Ana's thread id: he starts from nothing.
    assert api.history("bob", THREAD) == [] and api.threads("bob") == []
    assert api.profile("bob", THREAD) == Profile().model_dump(mode="json")
    assert api.rec.knowledge.memory.all("bob") == [] and api.rec.last_reply("bob", THREAD) is None

    bob = api.chat(BOB_SAYS, "bob", THREAD)
    assert any("horror" in item["genres"] for item in bob["items"]), "Ana's exclusion is not applied to Bob"
    _reasons_name_none_of(api, bob["items"], {*ana["profile"]["liked_ids"], *ana["profile"]["disliked_ids"]})
    assert api.history("bob", THREAD) == [["human", BOB_SAYS], ["ai", bob["text"]]]
    profile = api.profile("bob", THREAD)
    assert profile["genres"] == ["horror"] and profile["wishes"] == [BOB_SAYS]
    own = {"genres": ["horror"], "wishes": [BOB_SAYS], "said": [BOB_SAYS], "turn": 1}
    assert profile == {**Profile().model_dump(mode="json"), **own, "suggested_ids": [i["id"] for i in bob["items"]]}
    assert api.threads("bob") == [THREAD]
    recalled = api.rec.knowledge.memory.recall("bob", ANA_SAYS, k=20)
    assert all(r.user_id == "bob" for r in recalled) and not {r.text for r in recalled} & {m[2] for m in ana["memory"]}
    assert _memory(api, "bob").isdisjoint(ana["memory"])

    # Bob takes back the very entries Ana has, and gives feedback on her items: Ana keeps hers.
    api.feedback("bob", "1", False, THREAD)
    for field, value in [("liked_ids", "1"), ("disliked_ids", "1"), ("disliked_ids", "5"), ("exclude_genres", "horror"),
                         ("exclude_people", "Christian Bale"), ("genres", "horror")]:  # fmt: skip
        api.forget("bob", field, value, THREAD)
    assert api.rec.knowledge.memory.all("bob") == []
    assert _ana(api) == ana

    # Ana's memory still seeds her next conversation with everything she said.
    later = api.chat("any ideas?", "ana", "t2")
    seeded = api.profile("ana", "t2")
    assert seeded["exclude_genres"] == ["horror"] and seeded["exclude_people"] == ["Christian Bale"]
    assert {"1", first["items"][0]["id"]} <= set(seeded["liked_ids"]) and {"4", "5"} <= set(seeded["disliked_ids"])
    assert not any("horror" in item["genres"] for item in later["items"])


def test_a_new_thread_of_b_is_seeded_from_b_memory_only(api: PythonApi):
    api.chat(ANA_SAYS, "ana", THREAD)
    api.chat("I loved The Matrix (1999)", "bob", "other")
    fresh = api.chat("any ideas?", "bob", "new")
    profile = api.profile("bob", "new")
    assert profile["liked_ids"] == ["4"] and profile["exclude_genres"] == [] and profile["exclude_people"] == []
    _reasons_name_none_of(api, fresh["items"], {"1", "5"})  # "like Inception, which you liked" would be Ana's
    assert sorted(api.threads("bob")) == ["new", "other"]
