"""Interactions for collaborative signals: who mentioned, suggested and took which item, per conversation.

Bundled movies: every ReDial training-split conversation. The mention lists (``redial_train_mentions``) give
the movies each conversation named with the seeker's like / dislike; the dialogues (``redial_train_dialogues``)
add, where their text exists, what the human recommender suggested and how the seeker took it (from the
``initiatorQuestions`` / ``respondentQuestions`` labels: accepted, seen, turned down). The validation
conversations are flagged, so that anything fitted or tuned against the validation turns can leave them out
(:meth:`Interactions.without`); the shipped index uses them all. No test dialogue is in these files.

Another catalog: an optional ``user,item,rating`` CSV (setting ``interactions``), one "conversation" per user
holding the items rated at or above that user's mean (all ratings feed the rating similarity).
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from crs_agent.knowledge.errors import CatalogError

__all__ = ["Conversation", "Interactions", "Reaction"]

Reaction = Literal["accepted", "seen", "turned_down", "unknown"]
_MENTION = re.compile(r"@(\d+)")
_DIALOGUES = "redial_train_dialogues.jsonl.gz"
_MENTIONS = "redial_train_mentions.jsonl.gz"


@dataclass(frozen=True)
class Conversation:
    """One conversation (or one user of an interactions file)."""

    id: str
    mentions: tuple[tuple[str, int], ...] = ()  # (item id, 1 liked / 0 disliked / -1 did not say), in order
    suggestions: tuple[tuple[str, Reaction], ...] = ()  # what a recommender suggested and how it was taken
    validation: bool = False
    contexts: tuple[tuple[str, str], ...] = ()  # (suggested item, what the seeker said just before it)

    def items(self) -> list[str]:
        """Every item the conversation named, first mention first."""
        return list(dict.fromkeys([*(i for i, _ in self.mentions), *(i for i, _ in self.suggestions)]))


@dataclass
class Interactions:
    conversations: list[Conversation] = field(default_factory=list)
    ratings: list[tuple[str, str, float]] = field(default_factory=list)  # (user, item id, rating) from a file

    def __len__(self) -> int:
        return len(self.conversations)

    def without(self, ids: Collection[str]) -> Interactions:
        """The same interactions less the conversations in ``ids`` (out-of-fold signals)."""
        drop = set(ids)
        kept = [c for c in self.conversations if c.id not in drop]
        return Interactions(kept, [r for r in self.ratings if r[0] not in drop])

    def validation_ids(self) -> set[str]:
        return {c.id for c in self.conversations if c.validation}

    def item_lists(self) -> list[list[str]]:
        return [c.items() for c in self.conversations]

    def contexts(self) -> dict[str, list[str]]:
        """Per item, what seekers said right before a recommender suggested it (training dialogues' text)."""
        out: dict[str, list[str]] = {}
        for conversation in self.conversations:
            for item_id, text in conversation.contexts:
                out.setdefault(item_id, []).append(text)
        return out

    def counts(self) -> dict[str, Counter[str]]:
        """Per item: conversations naming it, recommender suggestions, and suggestions the seeker accepted."""
        mentioned: Counter[str] = Counter()
        suggested: Counter[str] = Counter()
        accepted: Counter[str] = Counter()
        for conversation in self.conversations:
            mentioned.update(conversation.items())
            for item_id, reaction in dict(conversation.suggestions).items():
                suggested[item_id] += 1
                accepted[item_id] += reaction == "accepted"
        return {"mentioned": mentioned, "suggested": suggested, "accepted": accepted}

    # -- loading ------------------------------------------------------------------------------------
    @classmethod
    def bundled(cls, data_dir: Path) -> Interactions:
        """Every training-split conversation of the bundled files (mention lists joined with dialogue labels)."""
        dialogues = {d["conversationId"]: d for d in _jsonl(data_dir / _DIALOGUES)}
        conversations = []
        for row in _jsonl(data_dir / _MENTIONS):
            dialogue = dialogues.pop(row["conversationId"], None)
            mentions = tuple((str(i), int(liked)) for i, liked in row["mentions"])
            conversations.append(_conversation(row["conversationId"], mentions, dialogue, bool(row["in_validation"])))
        conversations += [_conversation(cid, (), d, False) for cid, d in dialogues.items()]  # dialogue-only records
        return cls(conversations)

    @classmethod
    def from_ratings_file(cls, path: Path, known: Collection[str]) -> Interactions:
        """A ``user,item,rating`` CSV (header row; rating optional, 1 when missing) for a user's own catalog."""
        if not path.is_file():
            raise CatalogError(f"Interactions file {path} does not exist: give a CSV with columns user,item,rating.")
        ratings = list(_rating_rows(path, set(known)))
        by_user: dict[str, list[tuple[str, float]]] = {}
        for user, item_id, rating in ratings:
            by_user.setdefault(user, []).append((item_id, rating))
        conversations = []
        for user, rows in by_user.items():
            mean = sum(r for _, r in rows) / len(rows)
            liked = tuple((i, 1) for i, r in rows if r >= mean)  # "users who liked this also liked"
            conversations.append(Conversation(user, liked))
        return cls(conversations, ratings)


def _jsonl(path: Path) -> Iterable[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _reaction(answer: dict) -> Reaction:
    if answer.get("liked") == 0:
        return "turned_down"
    if answer.get("seen") == 1:
        return "seen"
    if answer.get("liked") == 1:
        return "accepted"
    return "unknown"


def _conversation(cid: str, mentions: tuple[tuple[str, int], ...], dialogue: dict | None, valid: bool) -> Conversation:
    if dialogue is None:
        return Conversation(cid, mentions, validation=valid)
    labels = dialogue.get("initiatorQuestions") or dialogue.get("respondentQuestions") or {}
    order = [m for message in dialogue["messages"] for m in _MENTION.findall(message["text"])]
    order = list(dict.fromkeys([*order, *labels]))
    if not mentions:  # only the dialogue: its labelled movies in order of appearance
        liked = {"0": 0, "1": 1}
        mentions = tuple((i, liked.get(str(labels.get(i, {}).get("liked")), -1)) for i in order)
    suggested = {i for i in order if (labels.get(i) or {}).get("suggested") == 1}
    suggestions = tuple((i, _reaction(labels[i])) for i in order if i in suggested)
    return Conversation(cid, mentions, suggestions, valid, _contexts(dialogue, suggested))


def _contexts(dialogue: dict, suggested: set[str], keep: int = 2) -> tuple[tuple[str, str], ...]:
    """Each suggested movie's first suggestion by the recommender, with the seeker's last ``keep`` turns before
    (a turn: the seeker's consecutive messages)."""
    names = {k: (v or "").strip() for k, v in (dialogue.get("movieMentions") or {}).items()}
    seeker, said, out, done = dialogue.get("initiatorWorkerId"), [], [], set()
    previous = None
    for message in dialogue["messages"]:
        text, sender = message["text"], message.get("senderWorkerId")
        if sender == seeker:
            text = _MENTION.sub(lambda m: names.get(m[1], ""), text)
            said[-1:] = [f"{said[-1]} {text}"] if said and previous == seeker else [*said[-1:], text]
            previous = sender
            continue
        previous = sender
        for item_id in _MENTION.findall(text):
            if item_id in suggested and item_id not in done and said:
                done.add(item_id)
                out.append((item_id, " ".join(said[-keep:])))
    return tuple(out)


def _rating_rows(path: Path, known: set[str]) -> Iterable[tuple[str, str, float]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"user", "item"} <= set(reader.fieldnames):
            raise CatalogError(f"Interactions file {path} needs a header with columns user,item[,rating].")
        for row in reader:
            item_id = (row.get("item") or "").strip()
            if item_id in known and (row.get("user") or "").strip():
                try:
                    rating = float(row.get("rating") or 1.0)
                except ValueError as err:
                    raise CatalogError(
                        f"{path}, line {reader.line_num}: rating {row['rating']!r} is not a number."
                    ) from err
                yield row["user"].strip(), item_id, rating
