"""The item catalog: one pydantic ``Item`` per recommendable thing, whatever the domain."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, Field

__all__ = ["Catalog", "Item", "decade_of", "normalize_title", "split_title_year"]

_YEAR_RE = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
_ARTICLES = ("the ", "a ", "an ")


def split_title_year(name: str) -> tuple[str, int | None]:
    """``"Police Academy  (1984)"`` -> ``("Police Academy", 1984)``."""
    name = " ".join(name.split())
    match = _YEAR_RE.match(name)
    if match:
        return match["title"].strip(), int(match["year"])
    return name, None


def normalize_title(text: str) -> str:
    """Lower-case, strip accents and punctuation, drop a leading article: the key for title lookup."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    for article in _ARTICLES:
        if text.startswith(article):
            text = text[len(article) :]
            break
    return text


def decade_of(year: int | None) -> str | None:
    return f"{year // 10 * 10}s" if year else None


class Item(BaseModel):
    """A recommendable item. ``people`` maps a role ("director", "star", "author"...) to names."""

    id: str
    title: str
    year: int | None = None
    genres: list[str] = Field(default_factory=list)
    people: dict[str, list[str]] = Field(default_factory=dict)
    description: str = ""
    aliases: list[str] = Field(default_factory=list)
    relations: list[tuple[str, str]] = Field(
        default_factory=list, description="(relation, other item id) pairs, e.g. ('sequel_of', '42')."
    )
    popularity: float = Field(default=0.0, ge=0.0, le=1.0, description="Prior in [0, 1] from interaction counts.")
    mentions: int = Field(default=0, description="Training-split dialogue mentions (movies) or interactions.")
    ratings: int = Field(default=0, description="MovieLens rating count, when linked.")
    movielens_id: int | None = None
    has_facts: bool = True

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    @property
    def decade(self) -> str | None:
        return decade_of(self.year)

    def names(self) -> list[str]:
        """Every person named on the item, in role order."""
        return [name for names in self.people.values() for name in names]

    def document(self) -> str:
        """The text embedded for semantic search: title, genres, the first credited person, description.

        Kept short on purpose: embedding cost grows with length, and people and genres are also
        reachable exactly through the knowledge graph and the metadata filters.
        """
        parts = [self.label + "."]
        if self.genres:
            parts.append(", ".join(self.genres).capitalize() + ".")
        role, names = next(((r, n) for r, n in self.people.items() if n), ("", []))
        if names:
            parts.append(f"{role.capitalize()}: {names[0]}.")
        if self.description:
            parts.append(self.description)
        return " ".join(parts)


class Catalog:
    """Items by id, with title lookup. Immutable after construction."""

    def __init__(self, items: Iterable[Item]) -> None:
        self._items: dict[str, Item] = {}
        self._by_title: dict[str, list[str]] = {}
        for item in items:
            self._items[item.id] = item
            for key in {normalize_title(item.title), normalize_title(item.label), *map(normalize_title, item.aliases)}:
                if key:
                    self._by_title.setdefault(key, []).append(item.id)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items.values())

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __getitem__(self, item_id: str) -> Item:
        return self._items[item_id]

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def ids(self) -> list[str]:
        return list(self._items)

    def by_title(self, title: str) -> list[Item]:
        """Items whose normalised title or alias equals ``title``'s, most popular first."""
        found = [self._items[i] for i in self._by_title.get(normalize_title(title), [])]
        return sorted(found, key=lambda item: -item.popularity)

    def title_keys(self) -> dict[str, list[str]]:
        """Normalised title -> item ids (for linkers that scan text for titles)."""
        return self._by_title

    def genres(self) -> list[str]:
        return sorted({g for item in self for g in item.genres})

    def save(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as out:
            for item in self:
                out.write(item.model_dump_json() + "\n")

    @classmethod
    def load(cls, path: Path) -> Catalog:
        with path.open(encoding="utf-8") as lines:
            return cls(Item.model_validate(json.loads(line)) for line in lines if line.strip())
