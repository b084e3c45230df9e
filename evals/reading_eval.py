"""How well a reading of seeker messages matches the labels: per-movie sentiment, turn-downs, intents.

A reader maps a :class:`~crs_agent.evals.reading_data.LabelledTurn` to a ``PreferenceUpdate`` (the rules'
reading is ``turn.base``; the learned one is :func:`~crs_agent.agent.reading.read_learned` on top of it).
Sentiment is read from the profile the updates fold into, as the agent keeps it (``fold_message``): a movie
is disliked if the profile dislikes it, else seen if it is among the seen, else disliked if it was turned
down, else liked if liked, else unsaid. It is scored on every labelled movie the seeker named or replied to
(the recommender named it right before a seeker turn).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from crs_agent.agent.reading import ReadingModel, read_learned
from crs_agent.evals.reading_data import LabelledTurn, sentiment
from crs_agent.tools import Profile
from crs_agent.tools.context import TURNED_DOWN, PreferenceUpdate, fold_message

__all__ = [
    "CachedEmbedder",
    "Reader",
    "cost_per_message",
    "intent_scores",
    "intent_scores_from",
    "macro_f1",
    "markdown_table",
    "redial_scores",
]

Reader = Callable[[LabelledTurn], PreferenceUpdate]
SENTIMENTS = ("liked", "disliked", "seen", "unsaid")
LIKED = ("liked", "disliked", "unsaid")


def macro_f1(gold: Sequence[str], pred: Sequence[str], classes: Sequence[str] | None = None) -> float:
    """Mean F1 over ``classes`` (default: the classes present in ``gold``)."""
    scores = []
    for c in classes or sorted(set(gold)):
        tp = sum(g == c and p == c for g, p in zip(gold, pred, strict=True))
        fp = sum(g != c and p == c for g, p in zip(gold, pred, strict=True))
        fn = sum(g == c and p != c for g, p in zip(gold, pred, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


class CachedEmbedder:
    """The embedder, answering from the vectors computed for the fit where it can."""

    def __init__(self, embedder: Any, vectors: dict[str, np.ndarray]) -> None:
        self.embedder, self.vectors = embedder, vectors

    def __call__(self, input: list[str]) -> list[np.ndarray]:  # noqa: A002 - the embedder protocol's name
        return [self.vectors[t] if t in self.vectors else np.asarray(self.embedder([t])[0]) for t in input]

    def name(self) -> str:
        return self.embedder.name()

    def get_config(self) -> dict[str, Any]:
        return self.embedder.get_config()


def cost_per_message(model: ReadingModel, embedder: Any, turns: Sequence[LabelledTurn]) -> str:
    """Milliseconds per message of ``read_learned`` with the real embedder (nothing cached)."""
    model.applies_to(embedder)  # loads the embedder
    times = []
    for turn in turns:
        start = time.perf_counter()
        read_learned(model, embedder, turn.text, turn.base, turn.last, turn.heard)
        times.append(1000 * (time.perf_counter() - start))
    p50, p95 = np.percentile(times, [50, 95])
    return f"read_learned on {len(times)} test messages, real embedder: p50 {p50:.1f} ms, p95 {p95:.1f} ms"


def _predicted(profile: Profile, item_id: str) -> tuple[str, str]:
    """(four-class sentiment, liked-head class) the profile gives ``item_id``."""
    if item_id in profile.disliked_ids:
        return "disliked", "disliked"
    seen, turned_down = item_id in profile.seen_ids, item_id in profile.rejected_ids
    liked = "liked" if item_id in profile.liked_ids else "disliked" if turned_down and not seen else "unsaid"
    return ("seen" if seen else liked), liked


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else float("nan")


def redial_scores(dialogues: Sequence[tuple[list[LabelledTurn], dict]], reader: Reader) -> dict[str, float]:
    """Per-movie sentiment macro-F1 (four classes; the liked head; seen as a binary F1), turn-down recall on
    replies to suggestions later labelled disliked or seen, and the false turn-down rate on replies to
    suggestions later labelled liked and unseen."""
    gold4, pred4, gold_liked, pred_liked, gold_seen, pred_seen = [], [], [], [], [], []
    downs: dict[str, list[bool]] = {"disliked": [], "seen": [], "down": [], "accept": []}
    accepted: list[bool] = []
    downs_accepted: list[bool] = []
    for turns, labels in dialogues:
        profile, evidence = Profile(), {}
        for turn in turns:
            update = reader(turn)
            profile = fold_message(profile, update, turn.text, turn.last)
            evidence.update(dict.fromkeys([*turn.named, *turn.last.item_ids]))
            if turn.reply in downs:
                downs[turn.reply].append(update.intent in TURNED_DOWN)
            if turn.reply in ("disliked", "seen", "down"):
                downs_accepted.append(update.intent == "accept")
            if turn.reply == "accept":
                accepted.append(update.intent == "accept")
        for item_id in (i for i in evidence if i in labels):
            label, (four, liked) = labels[item_id], _predicted(profile, item_id)
            gold4.append(sentiment(label))
            pred4.append(four)
            gold_liked.append({0: "disliked", 1: "liked"}.get(label.get("liked"), "unsaid"))
            pred_liked.append(liked)
            gold_seen.append("seen" if label.get("seen") == 1 else "other")
            pred_seen.append("seen" if item_id in profile.seen_ids else "other")
    all_downs = downs["disliked"] + downs["seen"] + downs["down"]
    return {
        "mentions": len(gold4),
        "sentiment_f1": macro_f1(gold4, pred4, SENTIMENTS),
        "liked_f1": macro_f1(gold_liked, pred_liked, LIKED),
        "seen_f1": macro_f1(gold_seen, pred_seen, ("seen",)),
        "turn_downs": len(all_downs),
        "turn_down_recall": _share(all_downs),
        "disliked_recall": _share(downs["disliked"]),
        "seen_recall": _share(downs["seen"]),
        "turn_down_as_accept": _share(downs_accepted),
        "accepts": len(downs["accept"]),
        "false_turn_down": _share(downs["accept"]),
        "accept_recall": _share(accepted),
    }


def intent_scores(turns: Sequence[LabelledTurn], reader: Reader) -> dict[str, float]:
    return intent_scores_from([t.intent or "chit-chat" for t in turns], [reader(t).intent for t in turns])


def intent_scores_from(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    correct = sum(g == p for g, p in zip(gold, pred, strict=True))
    return {"turns": len(gold), "accuracy": correct / len(gold) if gold else 0.0, "macro_f1": macro_f1(gold, pred)}


def markdown_table(rows: Sequence[tuple[str, dict[str, float]]], columns: Sequence[tuple[str, str]]) -> str:
    """``rows``: (name, scores); ``columns``: (score key, header)."""
    lines = ["| | " + " | ".join(h for _, h in columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, scores in rows:
        cells = [f"{scores[k]:.3f}" if isinstance(scores[k], float) else str(scores[k]) for k, _ in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
