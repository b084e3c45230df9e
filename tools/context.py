"""The conversation as context: what one message adds (``PreferenceUpdate``) and how it folds into the profile.

The whole dialogue is the context, not only the last message: every seeker message, what the recommender
said and suggested, the movies mentioned with the seeker's stance, the attributes already asked about. The
agent, the tools-only evaluation system and the ranker's training all build profiles with these functions,
so the ranker is trained on exactly the contexts it later sees.

A list the agent showed and the user did not take is turned down for the rest of the conversation (never
shown again unless the user names one of its items). A list the user only heard from someone else (a human
recommender in a replayed dialogue) is a set of suggestions: the seeker's reaction decides what they are.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from crs_agent.tools.models import Profile

__all__ = ["Intent", "LastReply", "PreferenceUpdate", "fold_heard", "fold_message", "fold_shown"]

# What a seeker message does: asks for recommendations, answers a question, takes the last list, turns it
# down, says they have seen it, asks about it, or none of these.
Intent = Literal["ask", "answer", "accept", "reject", "seen", "inquire", "chit-chat"]
TURNED_DOWN: frozenset[str] = frozenset({"reject", "seen"})
_KEEP = {"said": 30, "heard": 30, "wishes": 10, "mentioned_ids": 200, "suggested_ids": 200, "asked": 20}


class PreferenceUpdate(BaseModel):
    """What one seeker message adds to the profile."""

    intent: Intent = "chit-chat"
    liked_ids: list[str] = Field(default_factory=list)
    disliked_ids: list[str] = Field(default_factory=list)
    seen_ids: list[str] = Field(default_factory=list)
    genres: list[str] = Field(default_factory=list)
    exclude_genres: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    exclude_people: list[str] = Field(default_factory=list)
    year_min: int | None = None
    year_max: int | None = None
    era_min: int | None = None
    era_max: int | None = None
    wish: str = ""
    mentioned_ids: list[str] = Field(default_factory=list, description="Every item the message names.")
    spans: list[tuple[str, str, str]] = Field(
        default_factory=list, description="What the linker matched: (kind, canonical value, text as written)."
    )
    answered: str | None = Field(default=None, description="The attribute this message answers a question about.")
    answer: list[str] = Field(default_factory=list, description="The values the answer gives (none: could not say).")

    def is_empty(self) -> bool:
        return not any(
            [
                self.liked_ids,
                self.disliked_ids,
                self.genres,
                self.exclude_genres,
                self.people,
                self.year_min,
                self.year_max,
                self.era_min,
                self.era_max,
            ]
        )


class LastReply(BaseModel):
    """The recommender turn a message answers: the items it named, and whether this agent showed them."""

    item_ids: list[str] = Field(default_factory=list)
    own: bool = Field(default=True, description="The agent's own list (False: heard from another recommender).")
    question: bool = False
    asked: str | None = Field(default=None, description="What the question asked about.")


def _union(a: list[str], b: list[str]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def _bounded(profile: Profile) -> Profile:
    for name, keep in _KEEP.items():
        setattr(profile, name, getattr(profile, name)[-keep:])
    return profile


def fold_message(profile: Profile, update: PreferenceUpdate, text: str, last: LastReply | None = None) -> Profile:
    """Fold one seeker message into the profile; the latest statement about an attribute wins."""
    last = last or LastReply()
    p = profile.model_copy(deep=True)
    liked, disliked, seen = list(update.liked_ids), list(update.disliked_ids), list(update.seen_ids)
    shown = [i for i in last.item_ids if i not in update.mentioned_ids]  # an item the user names is not passed by
    if update.intent == "accept" and last.item_ids and not (set(liked) & set(last.item_ids)):
        liked.append(last.item_ids[0])  # "sounds good": the first suggestion, liked and not yet seen
    elif update.intent == "seen" and not last.question:
        seen += shown
    if not last.question and update.intent != "accept" and (last.own or update.intent in TURNED_DOWN):
        p.rejected_ids = _union(p.rejected_ids, shown)[-200:]
    p.liked_ids = _union([i for i in p.liked_ids if i not in disliked], liked)[-50:]
    p.disliked_ids = _union([i for i in p.disliked_ids if i not in liked], disliked)[-50:]
    p.seen_ids = _union(p.seen_ids, seen)[-200:]
    p.rejected_ids = [i for i in p.rejected_ids if i not in update.mentioned_ids or i in disliked]
    p.mentioned_ids = _union(p.mentioned_ids, update.mentioned_ids)
    p.genres = _union([g for g in p.genres if g not in update.exclude_genres], update.genres)[-10:]
    p.exclude_genres = _union([g for g in p.exclude_genres if g not in update.genres], update.exclude_genres)[-10:]
    p.people = _union([x for x in p.people if x not in update.exclude_people], update.people)[-20:]
    p.exclude_people = _union([x for x in p.exclude_people if x not in update.people], update.exclude_people)[-10:]
    p.year_min = update.year_min or p.year_min
    p.year_max = update.year_max or p.year_max
    if update.era_min or update.era_max:  # a loose era replaces the last one
        p.era_min, p.era_max = update.era_min, update.era_max
    if p.year_min is not None and p.year_max is not None and p.year_min > p.year_max:  # the new bound wins
        p.year_min, p.year_max = (update.year_min, None) if update.year_min else (None, update.year_max)
    if update.wish and update.intent in ("ask", "answer", "reject", "seen"):
        p.wishes = [*p.wishes, update.wish]
    if update.answered:
        p.answers = {**p.answers, update.answered: update.answer[:20]}
    if text.strip():
        p.said = [*p.said, text.strip()[:500]]
    p.turn += 1
    return _bounded(p)


def fold_heard(
    profile: Profile,
    text: str,
    item_ids: list[str],
    undelivered: list[str] | None = None,
    unasked: str | None = None,
) -> Profile:
    """A recommender turn this agent did not write (a human recommender in a replayed dialogue).

    ``undelivered``: the agent's own last list, when this turn was said in its place (the seeker never saw it);
    ``unasked``: what the agent's own last question asked about, when this turn replaced it (never put to the
    seeker, so it may still be asked).
    """
    p = profile.model_copy(deep=True)
    if undelivered:
        drop = set(undelivered) - set(item_ids)
        p.suggested_ids = [i for i in p.suggested_ids if i not in drop]
    if unasked and p.asked[-1:] == [unasked]:  # fold_shown appended it last
        p.asked = p.asked[:-1]
    p.suggested_ids = _union(p.suggested_ids, item_ids)
    p.questions_in_row = 0
    if text.strip():
        p.heard = [*p.heard, text.strip()[:500]]
    return _bounded(p)


def fold_shown(profile: Profile, item_ids: list[str], asked: str | None = None) -> Profile:
    """The agent's own turn: the items it showed, or the attribute its question asked about."""
    p = profile.model_copy(deep=True)
    p.suggested_ids = _union(p.suggested_ids, item_ids)
    if asked:
        p.asked = [*p.asked, asked]
    p.questions_in_row = p.questions_in_row + 1 if asked else 0
    return _bounded(p)
