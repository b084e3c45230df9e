"""iEvaLM's attribute-based protocol on ReDial (Wang et al., EMNLP 2023; RUCAIBox/iEvaLM-CRS ``script/ask.py``).

Each case is a recommendation turn: the dialogue so far (the context) and the movies the human recommender
named next (the targets). The system reads the context, then has ``rounds`` (5) turns. In each it either
asks about genre, star (actor) or director, or recommends a ranking of up to 50 items:

- a recommendation that holds a target ends the dialogue (``That's perfect, thank you!``); otherwise the
  seeker says ``I don't like them.``;
- a question about genre, star or director gets the comma-joined set of that attribute's values over all
  the targets (the item facts), or ``Sorry, no information about this, please choose another option.``
  when the targets have none, or when the question is about anything else.

What the system asked comes from its typed reply (``Turn.asked``), never from its text. Recall@k is taken on
the last list, per target (iEvaLM's ``RecMetric``). The seeker never says anything else: no hints, no
history, no titles.
"""

from __future__ import annotations

from dataclasses import dataclass

from crs_agent.evals.cases import Case, Utterance
from crs_agent.evals.systems import Session
from crs_agent.evals.transcripts import Turn
from crs_agent.knowledge import Catalog, Item

__all__ = ["ACCEPTED", "LIST_SIZE", "NO_INFORMATION", "REJECTED", "ROUNDS", "IevalmSeeker", "context_of", "run_ievalm"]

ROUNDS = 5  # iEvaLM's --turn_num default
LIST_SIZE = 50  # iEvaLM prints and judges rec_pred[:50]
ACCEPTED = "That's perfect, thank you!"
REJECTED = "I don't like them."
NO_INFORMATION = "Sorry, no information about this, please choose another option."


def _values(item: Item, attribute: str) -> list[str]:
    if attribute == "genre":
        return item.genres
    return item.people.get(attribute, [])


@dataclass
class IevalmSeeker:
    """iEvaLM's seeker for one case: answers from the targets' facts, judges lists by the targets."""

    targets: list[str]
    catalog: Catalog

    def answer(self, asked: str | None) -> str:
        """The reply to a question about ``asked`` ("genre", "star", "director"; anything else has no answer)."""
        if asked not in ("genre", "star", "director"):
            return NO_INFORMATION
        values = [v for t in self.targets if t in self.catalog for v in _values(self.catalog[t], asked)]
        return ", ".join(dict.fromkeys(values)) or NO_INFORMATION

    def accepts(self, ranked: list[str]) -> bool:
        return any(t in ranked[:LIST_SIZE] for t in self.targets)

    def judge(self, ranked: list[str]) -> str:
        return ACCEPTED if self.accepts(ranked) else REJECTED


def context_of(case: Case) -> list[Utterance]:
    """The dialogue before the recommendation turn under test (the case's opening when it has no dialogue)."""
    scored = [n for n, u in enumerate(case.dialogue) if u.scored]
    context = case.dialogue[: scored[-1]] if scored else list(case.dialogue)
    while context and context[-1].role != "seeker":
        context = context[:-1]
    return context or [Utterance(role="seeker", text=case.opening)]


def run_ievalm(case: Case, session: Session, catalog: Catalog, rounds: int = ROUNDS) -> list[Turn]:
    """The context is replayed (the seeker's turns as messages, the recommender's as heard replies); the
    system's answer to the seeker's last context turn is round 1."""
    seeker = IevalmSeeker(case.targets, catalog)
    *before, last = context_of(case)
    for utterance in before:
        if utterance.role == "seeker":
            session.respond(utterance.text)
        else:
            session.hear(utterance.text, utterance.items)
    message, turns = last.text, []
    for _ in range(rounds):
        turn = session.respond(message)
        turns.append(turn)
        if turn.question:
            message = seeker.answer(turn.asked)
        elif seeker.accepts(turn.ranked):
            turn.accepted = True
            break
        else:
            message = REJECTED
    return turns
