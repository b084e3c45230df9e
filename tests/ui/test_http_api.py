"""The app's HTTP API through ``gradio_client``, against the real server on 127.0.0.1 (tiny catalog, rules)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from crs_agent.agent import Recommender
from crs_agent.ui.app import build_app, launch_app
from tests.servers import free_port


@pytest.fixture
def client(tiny_knowledge, tiny_settings) -> Iterator[Client]:
    app = build_app(Recommender(tiny_knowledge), tiny_settings)
    url = launch_app(app, port=free_port(), block=False)
    try:
        yield Client(url, verbose=False)
    finally:
        app.close()


def test_chat_feedback_and_threads_through_the_api(client: Client):
    endpoints = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert endpoints == {"/chat", "/feedback", "/profile", "/forget", "/threads", "/history"}
    reply = client.predict("I loved Inception (2010), no horror", "ana", "t1", api_name="/chat")
    assert len(reply["items"]) == 3 and not reply["question"]
    assert all(0 <= item["score"] <= 1 and item["reason"] for item in reply["items"])
    assert all("horror" not in item["genres"] for item in reply["items"])
    assert reply["trace"]["paths"] and reply["user_id"] == "ana"
    picked = reply["items"][0]["id"]
    profile = client.predict("ana", picked, True, "t1", api_name="/feedback")
    assert picked in profile["liked_ids"]
    assert client.predict("ana", "t1", api_name="/profile") == profile
    assert client.predict("ana", "exclude_genres", "horror", "t1", api_name="/forget")["exclude_genres"] == []
    assert client.predict("ana", api_name="/threads") == ["t1"]
    assert client.predict("bob", api_name="/threads") == []
    history = client.predict("ana", "t1", api_name="/history")
    assert history == [["human", "I loved Inception (2010), no horror"], ["ai", reply["text"]]]


def test_bad_arguments_come_back_as_one_line_errors(client: Client):
    with pytest.raises(AppError, match="user_id must be 1-80 characters") as bad_user:
        client.predict("hello", "a::b", "t1", api_name="/chat")
    with pytest.raises(AppError, match="unknown item id 'nope'"):
        client.predict("ana", "nope", True, "t1", api_name="/feedback")
    assert "Traceback" not in str(bad_user.value)
