"""Grounded explanations: reasons built only from KG paths, the item's own facts and text, and ratings.

Every entity a reason names is recorded in ``Reason.entities`` and lies on a real KG path from something
the user liked or asked for, or in the item's own text. :func:`check_rephrasing` rejects an LLM
rewording that names anything outside those grounded entities.
"""

from __future__ import annotations

import re

from crs_agent.knowledge import Item, Knowledge, entity_node, item_node
from crs_agent.tools.models import Explanation, Profile, Reason

__all__ = ["Explainer", "check_rephrasing", "grounded_entities"]

_PHRASES = {
    "directed_by": "Directed by {e}, like {liked}",
    "written_by": "Written by {e}, like {liked}",
    "stars": "Stars {e}, like {liked}",
    "has_genre": "{e_cap}, like {liked}",
    "released_in": "From the {e}, like {liked}",
}
_ORDER = ["directed_by", "written_by", "stars", "has_genre", "released_in"]
_WORD = re.compile(r"[a-z][a-z'-]{3,}")
_STOP = set(
    "with that this from they their there about into over when what which movie movies film films something "
    "like love want some good great really very more most much also have just been were your".split()
)


class Explainer:
    def __init__(self, knowledge: Knowledge) -> None:
        self.k = knowledge

    def explain(self, item_id: str, profile: Profile, limit: int = 3) -> Explanation:
        item = self.k.catalog[item_id]
        # the people the user asked for come first (they answered for them), then paths from what they loved
        reasons = [*self._people(item, profile), *self._liked_paths(item, profile), *self._genres(item, profile)]
        reasons += self._text(item, profile)
        reasons += self._collab(item, profile)
        if not reasons:
            reasons.append(self._fallback(item))
        return Explanation(item_id=item.id, title=item.label, reasons=reasons[:limit])

    def _liked_paths(self, item: Item, profile: Profile) -> list[Reason]:
        found: dict[str, Reason] = {}
        for liked_id in profile.liked_ids:
            liked = self.k.catalog.get(liked_id)
            if liked is None:
                continue
            for path in self.k.kg.paths(item_node(liked_id), item_node(item.id), max_len=2):
                if len(path) == 1:  # a direct item-item relation such as sequel_of
                    rel = path[0].relation.replace("_", " ")
                    found.setdefault(
                        rel, Reason(text=f"Linked to {liked.label} ({rel})", entities=[liked.title], kind="kg_path")
                    )
                    continue
                rel, entity = path[0].relation, self.k.kg.name(path[0].target)
                if rel in _PHRASES and rel not in found:
                    text = _PHRASES[rel].format(e=entity, e_cap=entity.capitalize(), liked=liked.title)
                    found[rel] = Reason(text=f"{text}, which you liked", entities=[entity, liked.title], kind="kg_path")
        return [found[r] for r in sorted(found, key=lambda r: _ORDER.index(r) if r in _ORDER else -1)]

    def _genres(self, item: Item, profile: Profile) -> list[Reason]:
        genres = [g for g in profile.genres if g in item.genres]
        if not genres:
            return []
        return [Reason(text=f"It is {' and '.join(genres)}, as you asked", entities=genres, kind="attribute")]

    def _people(self, item: Item, profile: Profile) -> list[Reason]:
        reasons = []
        neighbours = self.k.kg.neighbours(item_node(item.id))
        for name in reversed(profile.people):  # the latest named first
            for rel, _ in neighbours.get(entity_node("person", name), ()):
                verb = {"directed_by": "Directed by", "written_by": "Written by", "stars": "Stars"}.get(rel, "With")
                reasons.append(Reason(text=f"{verb} {name}, as you asked", entities=[name], kind="attribute"))
                break
        return reasons

    def _text(self, item: Item, profile: Profile) -> list[Reason]:
        text = item.description.lower()
        wish_words = {w for wish in profile.wishes for w in _WORD.findall(wish.lower())} - _STOP
        matched = sorted(w for w in wish_words if re.search(rf"\b{re.escape(w)}", text))
        if not matched:
            return []
        shown = matched[:3]
        return [Reason(text=f"Its story involves {', '.join(shown)}, which you mentioned", entities=shown, kind="text")]

    def _collab(self, item: Item, profile: Profile) -> list[Reason]:
        best = max(
            ((self.k.collab.similarity(i, item.id), i) for i in profile.liked_ids if i in self.k.catalog),
            default=(0.0, ""),
        )
        if best[0] <= 0.05:
            return []
        liked = self.k.catalog[best[1]].title
        return [Reason(text=f"People who rated {liked} highly rated it highly too", entities=[liked], kind="collab")]

    def _fallback(self, item: Item) -> Reason:
        if item.genres:
            return Reason(text=f"A well-liked {item.genres[0]} title", entities=[item.genres[0]], kind="popular")
        return Reason(text="One of the most talked-about titles in the catalog", entities=[], kind="popular")


def grounded_entities(knowledge: Knowledge, item_id: str, profile: Profile) -> set[str]:
    """Names an explanation of ``item_id`` may use: the item's own facts and text words, liked items
    connected to it by a KG path or a rating similarity, and the attributes the user asked for that it has."""
    item = knowledge.catalog[item_id]
    names = {item.title, *item.genres, *item.names()}
    if item.decade:
        names.add(item.decade)
    for liked_id in profile.liked_ids:
        liked = knowledge.catalog.get(liked_id)
        if liked and (
            knowledge.kg.paths(item_node(liked_id), item_node(item_id), max_len=3)
            or knowledge.collab.similarity(liked_id, item_id) > 0
        ):
            names.add(liked.title)
    names |= set(_WORD.findall(item.description.lower()))
    return {n.lower() for n in names}


def check_rephrasing(text: str, explanation: Explanation, named: list[str]) -> bool:
    """True when every entity ``named`` in an LLM's rewording of ``explanation`` was in its reasons."""
    allowed = {e.lower() for reason in explanation.reasons for e in reason.entities} | {explanation.title.lower()}
    allowed |= {explanation.title.lower().rsplit(" (", 1)[0]}
    return all(name.lower() in allowed for name in named)
