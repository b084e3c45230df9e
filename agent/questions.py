"""Questions that pay off: ask when an answer is worth more than a list.

The gain of a question is the expected chance that the target is among the items shown after the answer,
against the chance it is there already (:func:`crs_agent.tools.evidence.question_gain`, over the ranked
candidates' calibrated scores). The agent asks the attribute with the largest gain when it clears
``min_gain``; never one it asked before or one the user already answered, never a third question in a row,
never a second one when the reply to the first gave nothing to go on ("meh", "no idea", "no information about
this", "something from the 90s?" for a question about the cast: show a list), and never right after the user
refined a list they turned down (they said what to change: show it). A
question about something the user mentioned in passing asks for more ("Besides Tom Hanks, ...").
"""

from __future__ import annotations

from dataclasses import dataclass

from crs_agent.knowledge import Catalog, KnowledgeGraph, entity_node
from crs_agent.tools import Profile
from crs_agent.tools.context import LastReply
from crs_agent.tools.evidence import question_gain

__all__ = ["ASKABLE", "QUESTIONS", "QuestionPolicy", "known_attributes", "named_for", "question_text"]

ASKABLE = ("star", "director", "genre", "decade")
QUESTIONS = {  # attribute -> the question that asks for it
    "star": "Is there an actor or actress you'd like to see in it?",
    "director": "Is there a director whose films you enjoy?",
    "genre": "What genre are you in the mood for?",
    "decade": "Do you have a period in mind: the 80s, the 90s, something recent?",
}
_ROLE_RELATION = {"star": "stars", "director": "directed_by"}
_BESIDES = {
    "star": "is there an actor or actress you'd like to see in it?",
    "director": "is there a director whose films you enjoy?",
    "genre": "any other genre you're in the mood for?",
}
MAX_IN_A_ROW = 2


def known_attributes(profile: Profile) -> set[str]:
    """Attributes the user already answered, and a period they gave (a filter already). A genre or a person
    said in passing is not an answer: the question then asks for more than that ("Besides Tom Hanks, ...")."""
    known = set(profile.answers)
    if profile.year_min is not None or profile.year_max is not None:
        known.add("decade")
    return known


def named_for(profile: Profile, attribute: str, kg: KnowledgeGraph) -> list[str]:
    """What the user already said of ``attribute``: their genres, or the people they named in that role."""
    if attribute == "genre":
        return list(profile.genres)
    relation = _ROLE_RELATION.get(attribute)
    return [
        name
        for name in profile.people
        if relation in {rel for pairs in kg.neighbours(entity_node("person", name)).values() for rel, _ in pairs}
    ]


def question_text(attribute: str, said: list[str]) -> str:
    """The question about ``attribute``, acknowledging what the user already said of it."""
    if not said or attribute not in _BESIDES:
        return QUESTIONS[attribute]
    names = " and ".join(said[-2:])
    return f"Besides {names}, {_BESIDES[attribute]}"


@dataclass(frozen=True)
class QuestionPolicy:
    min_gain: float = 0.1  # the least expected gain in the chance of a hit that is worth a turn
    depth: int = 200  # ranked candidates the gain is computed over

    def choose(
        self,
        profile: Profile,
        scored: list[tuple[str, float]],
        catalog: Catalog,
        kg: KnowledgeGraph,
        shown: int,
        last: LastReply | None,
        refined: bool,
    ) -> tuple[str, float] | None:
        """The attribute to ask about and its gain, or ``None``: show the list."""
        if refined and last is not None and last.own and not last.question:
            return None  # "seen those, something from the 90s": a list under the new constraint
        if profile.questions_in_row >= MAX_IN_A_ROW:
            return None
        if last is not None and last.question and not profile.answers.get(last.asked or ""):
            return None  # no new information since the last question ("meh", "no idea", "from the 90s?")
        left = [a for a in ASKABLE if a not in profile.asked and a not in known_attributes(profile)]
        beyond = not any(profile.answers.values())  # an answer with values: its items are all in the ranking
        gains = {a: question_gain(scored[: self.depth], catalog, a, shown, beyond) for a in left}
        best = max(gains, key=gains.__getitem__, default=None)
        return (best, gains[best]) if best is not None and gains[best] >= self.min_gain else None
