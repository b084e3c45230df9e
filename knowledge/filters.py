"""Hard constraints on items, usable as a Chroma ``where`` clause and as an exact Python check.

Soft wishes rank; hard constraints filter: a candidate that fails ``accepts`` is never returned.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from crs_agent.knowledge.items import Item
from crs_agent.knowledge.stores import genre_key

__all__ = ["ItemFilter"]


class ItemFilter(BaseModel):
    """Constraints every returned item must satisfy."""

    genres: list[str] = Field(default_factory=list, max_length=5, description="Genres the item must all have.")
    exclude_genres: list[str] = Field(default_factory=list, max_length=10, description="Genres the item must not have.")
    people: list[str] = Field(default_factory=list, max_length=3, description="People who must all be credited.")
    exclude_people: list[str] = Field(
        default_factory=list, max_length=10, description="People who must not be credited."
    )
    year_min: int | None = Field(default=None, ge=1800, le=2100, description="Earliest release year.")
    year_max: int | None = Field(default=None, ge=1800, le=2100, description="Latest release year.")
    exclude_ids: list[str] = Field(default_factory=list, max_length=500, description="Item ids never to return.")

    @model_validator(mode="after")
    def _normalise(self) -> ItemFilter:
        self.genres = sorted({g.strip().lower() for g in self.genres if g.strip()})
        self.exclude_genres = sorted({g.strip().lower() for g in self.exclude_genres if g.strip()})
        if self.year_min and self.year_max and self.year_min > self.year_max:
            raise ValueError(f"year_min {self.year_min} is after year_max {self.year_max}")
        return self

    def is_empty(self) -> bool:
        return not (self.genres or self.exclude_genres or self.people or self.exclude_people) and (
            self.year_min is None and self.year_max is None and not self.exclude_ids
        )

    def accepts(self, item: Item) -> bool:
        own = set(item.genres)
        names = {n.lower() for n in item.names()}
        if not set(self.genres) <= own or own & set(self.exclude_genres):
            return False
        if any(p.lower() not in names for p in self.people) or any(p.lower() in names for p in self.exclude_people):
            return False
        if self.year_min is not None and (item.year is None or item.year < self.year_min):
            return False
        if self.year_max is not None and (item.year is None or item.year > self.year_max):
            return False
        return item.id not in set(self.exclude_ids)

    def where(self, known_genres: list[str]) -> dict[str, Any] | None:
        """The genre and year part as a Chroma ``where`` clause (people and ids are checked exactly).

        Raises ``ValueError`` for a required genre the catalog does not have, rather than ignoring it.
        """
        known = set(known_genres)
        unknown = [g for g in self.genres if g not in known]
        if unknown:
            raise ValueError(f"unknown genre(s) {', '.join(unknown)}; known genres: {', '.join(sorted(known))}")
        clauses: list[dict[str, Any]] = []
        clauses += [{genre_key(g): True} for g in self.genres]
        clauses += [{genre_key(g): False} for g in self.exclude_genres if g in known]
        if self.year_min is not None:
            clauses.append({"year": {"$gte": self.year_min}})
        if self.year_max is not None:
            clauses.append({"year": {"$lte": self.year_max}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}
