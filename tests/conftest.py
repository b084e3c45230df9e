"""Shared fixtures: no network, a tiny catalog, and isolated data directories."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

TINY_BOOKS = Path(__file__).resolve().parents[1] / "docs" / "examples" / "books.jsonl"

TINY_MOVIES = [
    {
        "id": "1",
        "title": "Inception",
        "year": 2010,
        "genres": ["sci-fi", "thriller", "action"],
        "people": {"director": ["Christopher Nolan"], "star": ["Leonardo DiCaprio", "Tom Hardy"]},
        "description": "A thief who steals secrets through dream-sharing is asked to plant an idea in a mind.",
    },
    {
        "id": "2",
        "title": "Interstellar",
        "year": 2014,
        "genres": ["sci-fi", "drama", "adventure"],
        "people": {"director": ["Christopher Nolan"], "star": ["Matthew McConaughey", "Anne Hathaway"]},
        "description": "Explorers travel through a wormhole in space to find a new home for humanity.",
    },
    {
        "id": "3",
        "title": "The Shining",
        "year": 1980,
        "genres": ["horror", "drama"],
        "people": {"director": ["Stanley Kubrick"], "star": ["Jack Nicholson"]},
        "description": "A writer becomes caretaker of an isolated haunted hotel and descends into madness.",
    },
    {
        "id": "4",
        "title": "The Matrix",
        "year": 1999,
        "genres": ["sci-fi", "action"],
        "people": {"director": ["Lana Wachowski", "Lilly Wachowski"], "star": ["Keanu Reeves"]},
        "description": "A hacker learns that reality is a simulation and joins a rebellion against the machines.",
    },
    {
        "id": "5",
        "title": "Paddington",
        "year": 2014,
        "genres": ["comedy", "family"],
        "people": {"director": ["Paul King"], "star": ["Ben Whishaw"]},
        "description": "A polite bear from Peru looks for a home in London with a kind family.",
    },
    {
        "id": "6",
        "title": "The Dark Knight",
        "year": 2008,
        "genres": ["action", "crime", "drama"],
        "people": {"director": ["Christopher Nolan"], "star": ["Christian Bale", "Heath Ledger"]},
        "description": "Batman faces the Joker, a criminal mastermind who plunges Gotham into chaos.",
        "relations": [{"relation": "sequel_of", "target": "7"}],
    },
    {
        "id": "7",
        "title": "Batman Begins",
        "year": 2005,
        "genres": ["action", "crime"],
        "people": {"director": ["Christopher Nolan"], "star": ["Christian Bale"]},
        "description": "Bruce Wayne trains with a secret order and returns to Gotham to fight crime.",
    },
    {
        "id": "8",
        "title": "Get Out",
        "year": 2017,
        "genres": ["horror", "mystery", "thriller"],
        "people": {"director": ["Jordan Peele"], "star": ["Daniel Kaluuya"]},
        "description": "A young man visits his girlfriend's family and uncovers a disturbing secret.",
    },
]


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse connections except to loopback; tests that need a server start it on 127.0.0.1."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1") and self.family != socket.AF_UNIX:
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def tiny_catalog_file(tmp_path: Path) -> Path:
    path = tmp_path / "movies.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in TINY_MOVIES), encoding="utf-8")
    return path


@pytest.fixture
def tiny_settings(tmp_path: Path, tiny_catalog_file: Path, monkeypatch: pytest.MonkeyPatch):
    from crs_agent.knowledge import Settings

    for name in ("CRS_AGENT_DATA_DIR", "CRS_AGENT_CATALOG", "CRS_AGENT_CHROMA", "CRS_AGENT_EMBEDDING_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CRS_AGENT_CONFIG", str(tmp_path / "absent.toml"))
    # Asking is tested where it is the subject (the tests of questions build their own policy); elsewhere an
    # eight-movie catalog would make a question worth more than almost any list.
    monkeypatch.setenv("CRS_AGENT_ASK_MIN_GAIN", "2")
    return Settings(data_dir=tmp_path / "data", catalog=tiny_catalog_file, embedding_model="hashing")


@pytest.fixture
def tiny_knowledge(tiny_settings):
    from crs_agent.knowledge import build_index, load_knowledge

    build_index(tiny_settings, progress=False)
    return load_knowledge(tiny_settings)


@pytest.fixture(scope="session")
def minilm_tiny_knowledge(tmp_path_factory: pytest.TempPathFactory):
    """The tiny catalog indexed with the real MiniLM embedder (what the learned reading was fitted with)."""
    from crs_agent.knowledge import Settings, build_index, load_knowledge

    root = tmp_path_factory.mktemp("minilm-tiny")
    catalog = root / "movies.jsonl"
    catalog.write_text("".join(json.dumps(row) + "\n" for row in TINY_MOVIES), encoding="utf-8")
    settings = Settings(data_dir=root / "data", catalog=catalog, embedding_model="all-MiniLM-L6-v2", chroma="embedded")
    build_index(settings, progress=False)
    return load_knowledge(settings)
