"""Loaders: the bundled ReDial / iEvaLM / MovieLens movies, or a user's own catalog (JSONL or CSV).

Both produce a :class:`SourceData`: items, extra KG triples, and the interactions that collaborative
signals are computed from. Only training-split conversations are read here (``redial_train_mentions.jsonl.gz``
and ``redial_train_dialogues.jsonl.gz``, see :mod:`crs_agent.knowledge.interactions`); the evaluation
dialogues live in ``crs_agent.evals`` and are never used to build the index. A user's catalog may come with
an interactions file (``user,item,rating``) that feeds the same collaborative signals.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from crs_agent.knowledge.errors import CatalogError
from crs_agent.knowledge.interactions import Interactions
from crs_agent.knowledge.items import Item, split_title_year

__all__ = [
    "BadRow",
    "SourceData",
    "bundled_data_dir",
    "load_bundled_movies",
    "load_catalog_file",
    "load_source",
    "popularity_prior",
    "source_fingerprint",
]

# A few genre spellings in the iEvaLM KG that name a genre the item facts already use.
GENRE_ALIASES = {"scary": "horror", "science fiction": "sci-fi", "scifi": "sci-fi", "sci fi": "sci-fi"}


@dataclass(frozen=True)
class BadRow:
    line: int
    error: str


@dataclass
class SourceData:
    """What an index is built from."""

    name: str
    items: list[Item]
    triples: list[tuple[str, str, str, str]] = field(default_factory=list)  # (item id, relation, type, name)
    ratings: list[tuple[str, str, float]] = field(default_factory=list)  # (user, item id, rating)
    interactions: Interactions = field(default_factory=Interactions)  # conversations (or users) and their items
    bad_rows: list[BadRow] = field(default_factory=list)
    fingerprint: str = ""


def bundled_data_dir() -> Path:
    return Path(str(resources.files("crs_agent.knowledge") / "data"))


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


_BUNDLED = (
    "movies_with_mentions.csv",
    "id2info.json",
    "kg.json",
    "entity2id.json",
    "relation2id.json",
    "redial_imdb_movielens.csv",
    "movielens_ratings.csv",
    "redial_train_mentions.jsonl.gz",
    "redial_train_dialogues.jsonl.gz",
)


def _bundled_files(data_dir: Path) -> list[Path]:
    return [data_dir / name for name in _BUNDLED]


def source_fingerprint(catalog: Path | None, interactions: Path | None = None) -> str:
    """A hash of the input files, computed without parsing them (to tell whether an index is stale)."""
    files = _bundled_files(bundled_data_dir()) if catalog is None else [catalog]
    return _hash_files(files + ([interactions] if catalog is not None and interactions else []))


def popularity_prior(mentions: Sequence[float], ratings: Sequence[float]) -> np.ndarray:
    """A prior in [0, 1] per item: log of training mentions plus half the log of MovieLens ratings, over the
    maximum."""
    raw = np.log1p(np.asarray(mentions, dtype=np.float64)) + 0.5 * np.log1p(np.asarray(ratings, dtype=np.float64))
    return raw / (raw.max(initial=0.0) or 1.0)


def _popularity(items: list[Item]) -> None:
    prior = popularity_prior([item.mentions for item in items], [item.ratings for item in items])
    for item, value in zip(items, prior.tolist(), strict=True):
        item.popularity = round(value, 6)


def load_bundled_movies(data_dir: Path | None = None) -> SourceData:
    """The ReDial movie catalog with iEvaLM facts, MovieLens ratings and training-split conversations."""
    data_dir = data_dir or bundled_data_dir()
    files = _bundled_files(data_dir)
    info: dict[str, dict[str, Any]] = json.loads(files[1].read_text(encoding="utf-8"))
    links = _movielens_links(files[5])
    interactions = Interactions.bundled(data_dir)
    mentions = interactions.counts()["mentioned"]
    ratings, rating_counts = _movielens_ratings(files[6], links)
    items = []
    with files[0].open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            items.append(_movie(row, info.get(row["movieId"]), links, mentions, rating_counts))
    _popularity(items)
    known = {item.id for item in items}
    return SourceData(
        name="redial-movies",
        items=items,
        triples=_kg_triples(files[2], files[3], files[4], info, known),
        ratings=ratings,
        interactions=interactions,
        fingerprint=_hash_files(files),
    )


def _movie(
    row: dict[str, str],
    facts: dict[str, Any] | None,
    links: dict[str, int],
    mentions: Counter[str],
    rating_counts: Counter[str],
) -> Item:
    movie_id = row["movieId"]
    title, year = split_title_year(row["movieName"])
    if facts:
        fact_title, fact_year = split_title_year(facts["name"])
        year = year or fact_year
        title = title or fact_title
    facts = facts or {}
    people = {
        role: list(facts.get(key, []))
        for role, key in (("director", "director"), ("writer", "writer"), ("star", "star"))
    }
    return Item(
        id=movie_id,
        title=title,
        year=year,
        genres=[GENRE_ALIASES.get(g, g) for g in facts.get("genre", [])],
        people={role: names for role, names in people.items() if names},
        description=facts.get("plot", ""),
        mentions=mentions[movie_id],
        ratings=rating_counts[movie_id],
        movielens_id=links.get(movie_id),
        has_facts=bool(facts),
    )


def _movielens_links(path: Path) -> dict[str, int]:
    with path.open(encoding="utf-8") as rows:
        return {
            row["redial_movieId"]: int(row["ml_movieId"])
            for row in csv.DictReader(rows)
            if row["year_check"] == "ok" and row["ml_movieId"]
        }


def _movielens_ratings(path: Path, links: dict[str, int]) -> tuple[list[tuple[str, str, float]], Counter[str]]:
    to_redial = {ml: redial for redial, ml in links.items()}
    ratings, counts = [], Counter()
    with path.open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            item = to_redial.get(int(row["movieId"]))
            if item is not None:
                ratings.append((row["userId"], item, float(row["rating"])))
                counts[item] += 1
    return ratings, counts


def _kg_triples(
    kg_path: Path, entity_path: Path, relation_path: Path, info: dict[str, dict[str, Any]], known: set[str]
) -> list[tuple[str, str, str, str]]:
    """iEvaLM's ``kg.json`` (head entity -> [[relation, tail]]) mapped to ReDial ids and typed tails."""
    names = {v: k for k, v in json.loads(entity_path.read_text(encoding="utf-8")).items()}
    relations = {v: k for k, v in json.loads(relation_path.read_text(encoding="utf-8")).items()}
    movie_by_name: dict[str, str] = {}
    for movie_id, facts in info.items():
        if movie_id in known:
            movie_by_name.setdefault(facts["name"], movie_id)
    triples = []
    for head, tails in json.loads(kg_path.read_text(encoding="utf-8")).items():
        movie_id = movie_by_name.get(names[int(head)])
        if movie_id is None:
            continue
        for relation_id, tail in tails:
            relation, name = relations[relation_id], names[tail]
            if relation == "genre":
                triples.append((movie_id, "genre", "genre", GENRE_ALIASES.get(name, name)))
            else:
                triples.append((movie_id, relation, "person", name))
    return triples


def load_source(catalog: Path | None, *, strict: bool = False, interactions: Path | None = None) -> SourceData:
    """The bundled movies when ``catalog`` is None, else the user's catalog file (with its interactions file)."""
    if catalog is None:
        return load_bundled_movies()
    return load_catalog_file(catalog, strict=strict, interactions=interactions)


def load_catalog_file(path: Path, *, strict: bool = False, interactions: Path | None = None) -> SourceData:
    """A user catalog: JSONL or CSV rows of the schema in ``docs/catalog.md``, and optionally an interactions
    file (``user,item,rating``) for the collaborative signals.

    A bad row is reported with its line number and skipped, or, with ``strict``, stops the load.
    """
    if not path.is_file():
        raise CatalogError(f"Catalog {path} does not exist: pass the path of a .jsonl or .csv file.")
    if path.suffix.lower() not in {".jsonl", ".csv"}:
        raise CatalogError(f"Catalog {path} must be .jsonl or .csv (see docs/catalog.md).")
    rows = _jsonl_rows(path) if path.suffix.lower() == ".jsonl" else _csv_rows(path)
    items, bad, seen = [], [], set()
    for line, row in rows:
        try:
            if isinstance(row, str):
                raise ValueError(row)
            item = _catalog_item(row)
            if item.id in seen:
                raise ValueError(f"duplicate id {item.id!r}")
        except (ValueError, ValidationError, TypeError) as err:
            message = str(err).splitlines()[0] if not isinstance(err, ValidationError) else _short(err)
            if strict:
                raise CatalogError(f"{path}, line {line}: {message}. Fix the row or drop --strict.") from err
            bad.append(BadRow(line, message))
            continue
        seen.add(item.id)
        items.append(item)
    if not items:
        raise CatalogError(f"Catalog {path} has no valid rows (see docs/catalog.md for the schema).")
    found = Interactions.from_ratings_file(interactions, seen) if interactions else Interactions()
    _count_interactions(items, found)
    _popularity(items)
    return SourceData(
        name=path.stem,
        items=items,
        ratings=found.ratings,
        interactions=found,
        bad_rows=bad,
        fingerprint=source_fingerprint(path, interactions),
    )


def _count_interactions(items: list[Item], interactions: Interactions) -> None:
    """Users interacting with an item count as its mentions when the catalog row gives no popularity."""
    users = interactions.counts()["mentioned"]
    for item in items:
        item.mentions = item.mentions or users.get(item.id, 0)


def _short(err: ValidationError) -> str:
    first = err.errors()[0]
    return f"{'.'.join(map(str, first['loc'])) or 'row'}: {first['msg']}"


def _jsonl_rows(path: Path):
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                yield number, f"invalid JSON ({err.msg})"


def _csv_rows(path: Path):
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            yield reader.line_num, {k: v for k, v in row.items() if k is not None and v not in (None, "")}


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise ValueError(f"expected a list of strings or a '|'-separated string, got {value!r}")


def _catalog_item(row: dict[str, Any]) -> Item:
    if not isinstance(row, dict):
        raise ValueError("a row must be a JSON object")
    if not str(row.get("id", "")).strip() or not str(row.get("title", "")).strip():
        raise ValueError("every row needs a non-empty 'id' and 'title'")
    people = row.get("people") or {}
    if not isinstance(people, dict):
        raise ValueError("'people' must map a role to names")
    people = {str(role): _split(names) for role, names in people.items()}
    for key, value in row.items():  # CSV: people.author=Ursula K. Le Guin|...
        if key.startswith("people."):
            people[key.split(".", 1)[1]] = _split(value)
    relations = []
    for rel in row.get("relations") or []:
        if not isinstance(rel, dict) or not {"relation", "target"} <= rel.keys():
            raise ValueError("each relation needs 'relation' and 'target'")
        relations.append((str(rel["relation"]), str(rel["target"])))
    year = row.get("year")
    return Item(
        id=str(row["id"]).strip(),
        title=str(row["title"]).strip(),
        year=int(year) if year not in (None, "") else None,
        genres=[g.lower() for g in _split(row.get("genres"))],
        people={role: names for role, names in people.items() if names},
        description=str(row.get("description", "")),
        aliases=_split(row.get("aliases")),
        relations=relations,
        mentions=int(row.get("popularity", 0) or 0),
        has_facts=bool(row.get("description") or row.get("genres") or people),
    )
