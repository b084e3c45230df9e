"""Typed inputs and artifacts shared by the tools: the user profile, candidates, facts, explanations."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from crs_agent.knowledge import Item, ItemFilter

__all__ = ["Candidate", "Explanation", "Fact", "KgResult", "MemoryHit", "Profile", "Reason"]


class Profile(BaseModel):
    """What the user said: liked/disliked/seen items, wanted/excluded attributes and free-text wishes."""

    liked_ids: list[str] = Field(default_factory=list, max_length=50, description="Catalog ids the user liked.")
    disliked_ids: list[str] = Field(default_factory=list, max_length=50, description="Catalog ids the user disliked.")
    seen_ids: list[str] = Field(default_factory=list, max_length=200, description="Ids the user has already seen.")
    rejected_ids: list[str] = Field(default_factory=list, max_length=200, description="Ids the user turned down.")
    genres: list[str] = Field(default_factory=list, max_length=10, description="Wanted genres.")
    exclude_genres: list[str] = Field(default_factory=list, max_length=10, description="Genres to avoid.")
    people: list[str] = Field(default_factory=list, max_length=20, description="Wanted people (names).")
    exclude_people: list[str] = Field(default_factory=list, max_length=10, description="People to avoid.")
    year_min: int | None = Field(default=None, ge=1800, le=2100)
    year_max: int | None = Field(default=None, ge=1800, le=2100)
    era_min: int | None = Field(default=None, ge=1800, le=2100, description='"Something recent": ranks, not filters.')
    era_max: int | None = Field(default=None, ge=1800, le=2100, description='"Old movies": ranks, not filters.')
    wishes: list[str] = Field(default_factory=list, max_length=10, description="Free-text wishes, most recent last.")
    mentioned_ids: list[str] = Field(
        default_factory=list, max_length=200, description="Every item the seeker named, whatever they felt, in order."
    )
    suggested_ids: list[str] = Field(
        default_factory=list, max_length=200, description="Items a recommender named in this conversation, in order."
    )
    said: list[str] = Field(default_factory=list, max_length=30, description="The seeker's messages, most recent last.")
    heard: list[str] = Field(
        default_factory=list, max_length=30, description="What the recommender said, most recent last."
    )
    turn: int = Field(default=0, ge=0, description="How many messages the seeker has sent in this conversation.")
    asked: list[str] = Field(
        default_factory=list, max_length=20, description='Attributes the recommender asked about ("star", ...).'
    )
    questions_in_row: int = Field(default=0, ge=0, description="The recommender's questions since its last list.")
    answers: dict[str, list[str]] = Field(
        default_factory=dict,
        description='What the seeker answered to a question about an attribute ("star": ["Tom Hanks", ...]); '
        "an empty list: they could not say.",
    )

    @model_validator(mode="after")
    def _consistent_years(self) -> Profile:
        """Contradictory year bounds ("recent" and "classic") constrain nothing rather than everything."""
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            self.year_min = self.year_max = None
        return self

    def hard_filter(self) -> ItemFilter:
        """The constraints that must hold: excluded attributes, year range, nothing seen, disliked or turned down.

        An item the seeker liked without having seen it (a suggestion they took, one they want to see) stays
        recommendable: human recommenders come back to such items, and a list may too."""
        return ItemFilter(
            exclude_genres=self.exclude_genres,
            exclude_people=self.exclude_people,
            year_min=self.year_min,
            year_max=self.year_max,
            exclude_ids=sorted({*self.seen_ids, *self.rejected_ids, *self.disliked_ids}),
        )

    def wish_text(self) -> str:
        parts = [*self.wishes[-3:], *self.genres, *self.people]
        return " ".join(p for p in parts if p).strip()


class Candidate(BaseModel):
    """An item on the candidate bus, with where it came from and how it scored."""

    item_id: str
    title: str
    score: float = Field(default=0.0, description="Calibrated score in [0, 1] once ranked; retrieval score before.")
    components: dict[str, float] = Field(default_factory=dict, description="Per-signal scores (semantic, collab...).")
    sources: list[str] = Field(default_factory=list, description="tool/path names that found this item.")

    @classmethod
    def of(cls, item: Item, score: float, source: str, **components: float) -> Candidate:
        return cls(item_id=item.id, title=item.label, score=round(score, 4), components=components, sources=[source])


class Fact(BaseModel):
    relation: str
    values: list[str]


class KgResult(BaseModel):
    entity: str = Field(description="The KG node the query resolved to.")
    name: str
    kind: str
    match_score: float = Field(description="How well the query matched the node's name (1 = exact).")
    facts: list[Fact] = Field(default_factory=list)
    related: list[Candidate] = Field(default_factory=list)
    paths: list[list[str]] = Field(default_factory=list, description="Typed paths rendered as node/relation lists.")


class Reason(BaseModel):
    text: str
    entities: list[str] = Field(description="Every entity the reason names; each lies on a KG path or the item text.")
    kind: str = Field(description='"kg_path", "attribute", "text" or "popular".')


class Explanation(BaseModel):
    item_id: str
    title: str
    reasons: list[Reason]

    @property
    def best(self) -> str:
        return self.reasons[0].text if self.reasons else ""


class MemoryHit(BaseModel):
    text: str
    kind: str
    score: float
