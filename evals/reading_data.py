"""Seeker turns with labels, for fitting and measuring the learned reading (:mod:`crs_agent.agent.reading`).

Two sources, read the way the agent reads a replayed dialogue (one turn per run of seeker messages, titles
written "Title (year)", the linker's reading as the base, the recommender turn before it as ``LastReply``):

- ReDial dialogues with ``initiatorQuestions`` (``suggested``, ``seen`` and ``liked`` per movie). Each title
  the linker finds in a seeker turn gets its movie's two labels: liked in {liked, disliked, unsaid} from
  ``liked`` 1/0/2, seen in {seen, unseen, unsaid} from ``seen`` 1/0/2 (two heads, because "seen it and loved
  it" is the commonest stance and a single label would have to drop one half of it). A seeker turn right
  after a recommender turn whose suggestions all share a fate is a reply of that kind: every suggestion
  later labelled seen -> "seen"; disliked (and not seen) -> "reject"; liked and unseen -> "accept". These
  are weak intent labels (the reply may be "what is it about?" and the verdict come later).
- IARD (ReDial dialogues annotated with user intents), mapped onto ``Intent`` by :func:`iard_intent`.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crs_agent.agent.understand import read_deterministic
from crs_agent.evals.cases import eval_data, redial_utterances
from crs_agent.knowledge import Catalog
from crs_agent.tools.context import LastReply, PreferenceUpdate
from crs_agent.tools.linker import Linker

__all__ = [
    "IARD_INTENTS",
    "LabelledTurn",
    "iard_intent",
    "iard_turns",
    "labels_of",
    "load_iard",
    "load_redial",
    "redial_turns",
    "sentiment",
    "stance_labels",
]

# IARD's user intents, most decisive first: a message's first match is its intent. "Seen" before "accept":
# ReDial counts a suggestion the seeker has seen (and liked) as seen; critiques and "any others?" turn the
# list down; CRI-C ("something like X but ...") states what they want; NRE ("haven't heard of it") takes nothing.
IARD_INTENTS: tuple[tuple[str, str], ...] = (
    ("SEE", "seen"),
    ("ACC", "accept"),
    ("REJ", "reject"),
    ("CRI-F", "reject"),
    ("CRI-A", "reject"),
    ("CON", "reject"),
    ("INQ", "inquire"),
    ("ANS", "answer"),
    ("IQU", "ask"),
    ("ASK", "ask"),
    ("PRO", "ask"),
    ("REF", "ask"),
    ("STO", "ask"),
    ("CRI-C", "ask"),
    ("NRE", "chit-chat"),
    ("OTH", "chit-chat"),
    ("END", "chit-chat"),
    ("BYE", "chit-chat"),
)
_LIKED = {0: "disliked", 1: "liked", 2: "unsaid"}
_SEEN = {0: "unseen", 1: "seen", 2: "unsaid"}


@dataclass
class LabelledTurn:
    """One seeker turn as the agent would read it, with what the labels say about it."""

    dialogue: str
    source: str  # "redial" or "iard"
    text: str
    last: LastReply
    heard: str
    base: PreferenceUpdate
    intent: str | None = None
    weak: bool = False
    reply: str | None = None  # after a suggestion: "disliked", "seen", "down" (both), "accept"; else None
    named: list[str] = field(default_factory=list)  # the ids the dialogue tags in this turn ("@id")
    stances: dict[str, tuple[str, str]] = field(default_factory=dict)  # linked id -> (liked, seen) labels


def sentiment(label: dict[str, int]) -> str:
    """One of four classes per movie: disliked, else seen, else liked, else unsaid."""
    if label.get("liked") == 0:
        return "disliked"
    if label.get("seen") == 1:
        return "seen"
    return "liked" if label.get("liked") == 1 else "unsaid"


def stance_labels(label: dict[str, int]) -> tuple[str, str]:
    return _LIKED.get(int(label.get("liked", 2)), "unsaid"), _SEEN.get(int(label.get("seen", 2)), "unsaid")


def iard_intent(acts: Iterable[str]) -> str:
    present = set(acts)
    return next((intent for code, intent in IARD_INTENTS if code in present), "chit-chat")


def labels_of(dialogue: dict[str, Any]) -> dict[str, dict[str, int]]:
    """The seeker's per-movie labels (the recommender's copy when the seeker's are missing)."""
    found = dialogue.get("initiatorQuestions") or dialogue.get("respondentQuestions") or {}
    return found if isinstance(found, dict) else {}


def _reply_kind(items: list[str], questions: dict[str, dict[str, int]]) -> str | None:
    suggested = [questions[i] for i in items if (questions.get(i) or {}).get("suggested") == 1]
    if not suggested:
        return None
    if all(q.get("seen") == 1 for q in suggested):
        return "seen"
    if all(q.get("liked") == 0 and q.get("seen") != 1 for q in suggested):
        return "disliked"
    if all(q.get("liked") == 0 or q.get("seen") == 1 for q in suggested):
        return "down"
    if all(q.get("liked") == 1 and q.get("seen") == 0 for q in suggested):
        return "accept"
    return None


_WEAK = {"seen": "seen", "disliked": "reject", "accept": "accept"}


def redial_turns(dialogue: dict[str, Any], catalog: Catalog, linker: Linker) -> Iterator[LabelledTurn]:
    """The seeker turns of one ReDial dialogue, labelled from its ``initiatorQuestions``."""
    questions = labels_of(dialogue)
    last, heard = LastReply(item_ids=[], own=False), ""
    for utterance in redial_utterances(dialogue, catalog):
        if utterance.role == "recommender":
            last, heard = LastReply(item_ids=list(utterance.items), own=False), utterance.text
            continue
        base = read_deterministic(utterance.text, linker, last)
        reply = _reply_kind(last.item_ids, questions)
        turn = LabelledTurn(
            str(dialogue.get("conversationId")), "redial", utterance.text, last, heard, base, reply=reply
        )
        turn.named = list(utterance.items)
        turn.intent, turn.weak = _WEAK.get(reply or ""), True
        turn.stances = {i: stance_labels(questions[i]) for i in base.mentioned_ids if i in questions}
        yield turn
        last, heard = LastReply(item_ids=[], own=False), ""


def iard_turns(dialogue: dict[str, Any], linker: Linker) -> Iterator[LabelledTurn]:
    """The user turns of one IARD dialogue with their mapped intent; the agent turn before is ``LastReply``."""
    previous: dict[str, Any] | None = None
    for utterance in dialogue.get("conversation", []):
        text = " ".join(str(utterance.get("utterance", "")).split())
        if utterance.get("participant") != "USER":
            previous = utterance
            continue
        heard = " ".join(str(previous.get("utterance", "")).split()) if previous else ""
        items = linker.link(heard).mentioned_ids if heard else []
        asked = previous is not None and any(a["intent"] in ("REQ", "CLA") for a in previous.get("dialogue_acts", []))
        last = LastReply(item_ids=items, own=False, question=asked and not items)
        intent = iard_intent(a["intent"] for a in utterance.get("dialogue_acts", []))
        base = read_deterministic(text, linker, last)
        yield LabelledTurn(str(dialogue.get("conversation_id")), "iard", text, last, heard, base, intent=intent)
        previous = None


def load_redial(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_iard() -> list[dict[str, Any]]:
    """IARD's gold and partial annotations, one list (their conversation ids do not overlap)."""
    out: list[dict[str, Any]] = []
    for name in ("iard_gold.json", "iard_partial.json"):
        out += json.loads(eval_data(name).read_text(encoding="utf-8"))
    return out
