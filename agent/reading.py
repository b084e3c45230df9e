"""The learned reading of a seeker message: what it does (its intent) and the seeker's stance on each title.

The deterministic linker finds what a message names (titles, people, genres, years); this model decides
what the message does (``Intent``: ask, answer, accept, reject, seen, inquire, chit-chat) and, for each
linked title, whether the seeker liked or disliked it and whether they have seen it. Three multinomial
logistic-regression heads read MiniLM sentence embeddings: of the message with its titles masked ("the
movie"), and, for each title, of the words around it (its clause, the title masked), plus a few context
flags (were items just shown, does the message name them, did the recommender ask "have you seen").

The fitted heads ship as ``agent/data/reading.json`` (read with numpy; scikit-learn only fits them):
``python -m crs_agent.evals.fit_reading`` refits them from the bundled training dialogues (ReDial's
per-movie labels, IARD's intents) and prints the evaluation. The model applies only with the embedder
it was fitted with, checked on probe sentences; with any other (the tests' hashing embedder)
:meth:`ReadingModel.applies_to` is False and the rules' reading stands.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, Field, PrivateAttr

from crs_agent.tools.context import Intent, LastReply, PreferenceUpdate

__all__ = [
    "INTENTS",
    "INTENT_FLAGS",
    "STANCE_FLAGS",
    "FittedWith",
    "Head",
    "MessageFeatures",
    "Reading",
    "ReadingModel",
    "Stance",
    "features",
    "intent_input",
    "read_learned",
    "stance_input",
]

INTENTS: tuple[str, ...] = get_args(Intent)
NEEDS_SHOWN = frozenset({"accept", "reject", "seen", "inquire"})  # answers to a suggestion: none without one
TARGET, OTHER = "the movie", "another movie"
MAX_MESSAGE_CHARS, MAX_WINDOW_CHARS, MAX_ITEMS = 400, 240, 8
_CLAUSE_BREAK = re.compile(
    r"(?<=[.!?;])\s+|\n+|\s*(?:\.\.\.|--)\s*|\s+(?=(?:but|though|although|however|except|whereas)\b)", re.I
)
_ASKED_SEEN = re.compile(r"\b(have|did|has) (you|u) (ever )?(seen|watched|heard|caught|see|watch)\b|\byou seen\b", re.I)
INTENT_FLAGS = ("shown", "question", "names_shown", "names_other", "question_mark", "asked_seen")
STANCE_FLAGS = ("shown", "asked_seen", "linker_liked", "linker_disliked", "linker_seen", "crowded", "question_mark")


class Head(BaseModel):
    """One multinomial logistic regression: class scores are ``softmax(coef @ x + intercept)``."""

    classes: list[str]
    coef: list[list[float]]
    intercept: list[float]
    _w: np.ndarray = PrivateAttr()
    _b: np.ndarray = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        self._w = np.asarray(self.coef, dtype=np.float32)
        self._b = np.asarray(self.intercept, dtype=np.float32)

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities for each row of ``x`` (shape: rows x classes)."""
        logits = np.atleast_2d(x).astype(np.float32) @ self._w.T + self._b
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


class FittedWith(BaseModel):
    """The embedder the heads were fitted on: its Chroma name, config, and its vectors for probe sentences."""

    name: str
    config: dict[str, Any] = Field(default_factory=dict)
    probes: list[str]
    vectors: list[list[float]]


class Stance(BaseModel):
    """The seeker's stance on one title, as the two stance heads read it."""

    liked: Literal["liked", "disliked", "unsaid"]
    seen: Literal["seen", "unseen", "unsaid"]


class Reading(BaseModel):
    """What the model read in one message: the intent (with its class scores) and a stance per title."""

    intent: Intent
    scores: dict[str, float] = Field(default_factory=dict)
    stances: dict[str, Stance] = Field(default_factory=dict)


@dataclass
class MessageFeatures:
    """What the heads read besides embeddings: the texts to embed and the context flags."""

    message: str
    windows: dict[str, str] = field(default_factory=dict)
    intent_flags: list[float] = field(default_factory=list)
    stance_flags: dict[str, list[float]] = field(default_factory=dict)
    shown: bool = False

    def texts(self) -> list[str]:
        return [self.message, *self.windows.values()]


class ReadingModel(BaseModel):
    """The shipped file: three heads and the embedder they were fitted with."""

    fitted_with: FittedWith
    intent: Head
    liked: Head
    seen: Head
    about: dict[str, Any] = Field(default_factory=dict, description="How it was fitted (data, seed, settings).")
    _applies: dict[str, bool] = PrivateAttr(default_factory=dict)

    @classmethod
    def default(cls) -> ReadingModel:
        """The model shipped in the package (loaded once per process)."""
        return _shipped()

    @classmethod
    def load(cls, path: Path) -> ReadingModel:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))

    def save(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.model_dump(), separators=(",", ":")) + "\n", encoding="utf-8")

    def applies_to(self, embedder: Any) -> bool:
        """Whether ``embedder`` is the one these heads were fitted with (same name, same probe vectors)."""
        name = getattr(embedder, "name", lambda: type(embedder).__name__)()
        if name != self.fitted_with.name:
            return False
        key = json.dumps([name, getattr(embedder, "get_config", dict)()], sort_keys=True, default=str)
        if key not in self._applies:
            got = np.asarray(embedder(list(self.fitted_with.probes)), dtype=np.float32)
            want = np.asarray(self.fitted_with.vectors, dtype=np.float32)
            self._applies[key] = got.shape == want.shape and bool(np.allclose(got, want, atol=2e-3))
        return self._applies[key]

    def read(self, feats: MessageFeatures, vectors: np.ndarray) -> Reading:
        """The intent and the stances, from ``feats`` and the embeddings of ``feats.texts()`` (in that order)."""
        message = vectors[0]
        scores = self.intent.proba(intent_input(message, feats.intent_flags))[0]
        allowed = [c in INTENTS and (feats.shown or c not in NEEDS_SHOWN) for c in self.intent.classes]
        best = max((s, c) for s, c, ok in zip(scores, self.intent.classes, allowed, strict=True) if ok)[1]
        reading = Reading(
            intent=best, scores={c: round(float(s), 4) for c, s in zip(self.intent.classes, scores, strict=True)}
        )
        for row, item_id in enumerate(feats.windows, start=1):
            x = stance_input(vectors[row], message, feats.stance_flags[item_id])
            liked, seen = self.liked.proba(x)[0], self.seen.proba(x)[0]
            reading.stances[item_id] = Stance(
                liked=self.liked.classes[int(liked.argmax())], seen=self.seen.classes[int(seen.argmax())]
            )
        return reading


@cache
def _shipped() -> ReadingModel:
    return ReadingModel.model_validate_json(
        (resources.files("crs_agent.agent") / "data" / "reading.json").read_text(encoding="utf-8")
    )


# -- features -------------------------------------------------------------------------------------------
def _title_ranges(text: str, base: PreferenceUpdate) -> list[tuple[int, int, str]]:
    """Where the linker's titles are written in ``text``: (start, end, item id), left to right, disjoint."""
    found: list[tuple[int, int, str]] = []
    cursor = 0
    for kind, value, written in base.spans:
        if kind not in ("item", "disliked_item") or not written:
            continue
        start = text.find(written, cursor)
        start = start if start >= 0 else text.find(written)
        if start >= 0 and not any(a < start + len(written) and start < b for a, b, _ in found):
            found.append((start, start + len(written), value))
            cursor = start + len(written)
    return sorted(found)


def _clauses(text: str, ranges: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Character ranges of the clauses: sentences, cut again before "but", "though", "however"... (never
    inside a title: "Scott Pilgrim vs. the World")."""
    inside = [m.end() for m in _CLAUSE_BREAK.finditer(text)]
    cuts = [0, *(c for c in inside if not any(a < c < b for a, b, _ in ranges)), len(text)]
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if text[a:b].strip()]


def _masked(text: str, ranges: list[tuple[int, int, str]], target: str | None, lo: int, hi: int) -> str:
    out, at = [], lo
    for start, end, item_id in ranges:
        if lo <= start and end <= hi:
            out += [text[at:start], TARGET if target is None or item_id == target else OTHER]
            at = end
    out.append(text[at:hi])
    return " ".join("".join(out).split())


def _window(
    text: str, ranges: list[tuple[int, int, str]], clauses: list[tuple[int, int]], item_id: str
) -> tuple[str, bool]:
    """The clauses naming ``item_id``, and the next one when it names no title ("Seen X? Loved it."); whether
    another title shares them."""
    parts: list[str] = []
    crowded = False
    for n, (a, b) in enumerate(clauses):
        inside = [i for s, _, i in ranges if a <= s < b]
        if item_id in inside:
            crowded = crowded or any(i != item_id for i in inside)
            parts.append(_masked(text, ranges, item_id, a, b))
            nxt = clauses[n + 1] if n + 1 < len(clauses) else None
            if nxt and not any(nxt[0] <= s < nxt[1] for s, _, _ in ranges):
                parts.append(_masked(text, ranges, item_id, *nxt))
    return " ".join(dict.fromkeys(parts))[:MAX_WINDOW_CHARS], crowded


def features(text: str, base: PreferenceUpdate, last: LastReply, heard: str = "") -> MessageFeatures:
    """The texts to embed and the flags, for ``text`` as the linker read it (``base``) after ``last``.

    ``heard``: the recommender's last words when known (a replayed human turn); "have you seen X?" makes a
    bare "no" an answer about having seen it rather than a turn-down.
    """
    ranges = _title_ranges(text, base)
    clauses = _clauses(text, ranges)
    shown = set(last.item_ids)
    asked_seen = float(bool(heard and _ASKED_SEEN.search(heard)))
    named = list(dict.fromkeys(i for _, _, i in ranges))
    intent_flags = [
        float(bool(shown)),
        float(last.question),
        float(bool(shown.intersection(named))),
        float(any(i not in shown for i in named)),
        float("?" in text),
        asked_seen,
    ]
    feats = MessageFeatures(
        _masked(text, ranges, None, 0, len(text))[:MAX_MESSAGE_CHARS] or text[:MAX_MESSAGE_CHARS],
        intent_flags=intent_flags,
        shown=bool(shown),
    )
    for item_id in named[:MAX_ITEMS]:
        window, crowded = _window(text, ranges, clauses, item_id)
        feats.windows[item_id] = window
        feats.stance_flags[item_id] = [
            float(item_id in shown),
            asked_seen,
            float(item_id in base.liked_ids),
            float(item_id in base.disliked_ids),
            float(item_id in base.seen_ids),
            float(crowded),
            float("?" in window),
        ]
    return feats


def intent_input(message: np.ndarray, flags: list[float]) -> np.ndarray:
    """The intent head's input: the message's embedding and the context flags."""
    return np.concatenate([message, flags])


def stance_input(window: np.ndarray, message: np.ndarray, flags: list[float]) -> np.ndarray:
    """A stance head's input: the embeddings of the title's window and of the message, and the flags."""
    return np.concatenate([window, message, flags])


# -- the reading ----------------------------------------------------------------------------------------
def _embed(embedder: Any, texts: list[str]) -> np.ndarray:
    """One call per message: a lone text goes through the embedder's query cache, several in one batch."""
    return np.asarray(embedder(texts), dtype=np.float32)


def read_learned(
    model: ReadingModel, embedder: Any, text: str, base: PreferenceUpdate, last: LastReply, heard: str = ""
) -> PreferenceUpdate:
    """``base`` (the linker's reading of ``text``) with the model's intent, and the model's stance deciding which
    of the linked titles (``base.mentioned_ids``, no other id) are liked, disliked and seen; everything else of
    ``base`` (genres, people, years, spans) as it is. ``heard``: the recommender's last words when known (a
    replayed human turn), "" for the agent's own. ``base`` itself comes back when the model does not apply to
    ``embedder`` (see :meth:`ReadingModel.applies_to`) or the message is blank."""
    if not text.strip() or not model.applies_to(embedder):
        return base
    feats = features(text, base, last, heard)
    reading = model.read(feats, _embed(embedder, feats.texts()))
    update = base.model_copy(deep=True)
    update.intent = reading.intent
    stances = {i: reading.stances.get(i) or _linker_stance(base, i) for i in base.mentioned_ids}  # beyond MAX_ITEMS
    update.liked_ids = [i for i, s in stances.items() if s.liked == "liked"]
    update.disliked_ids = [i for i, s in stances.items() if s.liked == "disliked"]
    update.seen_ids = [i for i, s in stances.items() if s.seen == "seen"]
    return update


def _linker_stance(base: PreferenceUpdate, item_id: str) -> Stance:
    liked = "liked" if item_id in base.liked_ids else "disliked" if item_id in base.disliked_ids else "unsaid"
    return Stance(liked=liked, seen="seen" if item_id in base.seen_ids else "unsaid")
