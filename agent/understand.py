"""understand: the user's message -> a typed ``PreferenceUpdate`` merged into the profile.

The deterministic linker always runs; an LLM (when configured) fills a bounded JSON schema, and its
output is validated against the catalog and the KG: a title, genre or person that does not exist is
dropped, never trusted. Durable facts are distilled into the user's memory.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, StringConstraints

from crs_agent.agent.llm import structured_result
from crs_agent.agent.reading import ReadingModel, read_learned
from crs_agent.agent.state import Deps, State, deps_of
from crs_agent.knowledge.items import normalize_title
from crs_agent.tools import Profile
from crs_agent.tools import lexicon as lex
from crs_agent.tools.context import Intent, LastReply, PreferenceUpdate, fold_message
from crs_agent.tools.linker import Linker

__all__ = [
    "MAX_MESSAGE_CHARS",
    "LlmReading",
    "PreferenceUpdate",
    "clean_message",
    "read_answer",
    "read_deterministic",
    "read_into",
    "read_message",
    "linker_left_gaps",
    "understand",
]

MAX_MESSAGE_CHARS = 2000
_ACCEPT = re.compile(
    r"\b(sounds? (good|great)|i'?ll (watch|check)|perfect|thanks?|thank you|love (it|that)|great|yes)\b", re.I
)
_SEEN = re.compile(
    r"\b(seen|watched) (it|that|them|those|both|(them|those|these) all|all of (them|those|these))\b", re.I
)
_REJECT = re.compile(
    r"\b(seen (it|that|them|those)|not (that|those|it)|something else|another|other (ones?|options?)|no thanks|"
    r"don'?t (like|want) (it|that|those|them)|nope)\b",
    re.I,
)
_ASK = re.compile(
    r"\b(recommend|suggest|looking for|want to (see|watch)|in the mood|any ideas|what should|like)\b", re.I
)


# Length bounds become grammar bounds: every generated token costs time, and a tiny model runs on.
_Title = Annotated[str, StringConstraints(max_length=60)]
_Genre = Annotated[str, StringConstraints(max_length=20)]
_Name = Annotated[str, StringConstraints(max_length=40)]


class LlmReading(BaseModel):
    """The bounded schema the LLM fills (grammar-constrained): short strings, few items."""

    intent: Intent
    liked_titles: list[_Title] = Field(default_factory=list, max_length=3)
    disliked_titles: list[_Title] = Field(default_factory=list, max_length=3)
    genres: list[_Genre] = Field(default_factory=list, max_length=3)
    exclude_genres: list[_Genre] = Field(default_factory=list, max_length=3)
    people: list[_Name] = Field(default_factory=list, max_length=2)


def clean_message(text: str) -> tuple[str, list[str]]:
    """Drop control characters, normalise Unicode, truncate long messages; say what was changed."""
    notices = []
    text = unicodedata.normalize("NFC", text.encode("utf-8", "replace").decode("utf-8"))
    cleaned = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()
    if len(cleaned) > MAX_MESSAGE_CHARS:
        notices.append(f"Your message was {len(cleaned):,} characters; I read the first {MAX_MESSAGE_CHARS:,}.")
        cleaned = cleaned[:MAX_MESSAGE_CHARS]
    return cleaned, notices


def _intent(text: str, update: PreferenceUpdate, has_previous_reply: bool) -> Intent:
    if has_previous_reply and _SEEN.search(text):
        return "seen"
    if has_previous_reply and _REJECT.search(text):
        return "reject"
    if _ASK.search(text) or update.liked_ids or update.genres or update.people:
        return "ask" if _ASK.search(text) else "answer"
    if has_previous_reply and _ACCEPT.search(text):
        return "accept"
    return "answer" if not update.is_empty() else "chit-chat"


def read_deterministic(text: str, linker: Linker, last: LastReply | None = None) -> PreferenceUpdate:
    """The linker's reading of a message: what it names and the stance its words give.

    A movie the seeker praises is one they have seen, unless it is one just suggested to them ("X sounds good").
    """
    last = last or LastReply(item_ids=[])
    linked = linker.link(text)
    suggested = set(last.item_ids)
    update = PreferenceUpdate(
        liked_ids=linked.liked_ids,
        disliked_ids=linked.disliked_ids,
        seen_ids=list(dict.fromkeys([*linked.seen_ids, *(i for i in linked.liked_ids if i not in suggested)])),
        genres=linked.genres,
        exclude_genres=linked.exclude_genres,
        people=linked.people,
        exclude_people=linked.exclude_people,
        year_min=linked.year_min,
        year_max=linked.year_max,
        era_min=linked.era_min,
        era_max=linked.era_max,
        wish=text[:300],
        mentioned_ids=linked.mentioned_ids,
        spans=linked.spans,
    )
    update.intent = _intent(text, update, bool(last.item_ids))
    return update


def _takes_it(text: str) -> bool:
    """Words that take a list: a word of acceptance and no word of negation, contrast or turning down."""
    words = set(re.findall(r"[a-z]+", text.lower().replace("'", "")))
    cancelled = words & (lex.NEGATIONS | lex.NT_STEMS | lex.TURN_DOWN_CUES)
    return bool(words & lex.ACCEPT_CUES) and not cancelled


def read_message(text: str, linker: Linker, last: LastReply | None = None, embedder: Any = None) -> PreferenceUpdate:
    """A message read without an LLM: the linker finds what it names; the learned reading (when fitted with
    ``embedder``) decides its intent and the stance on each title, else the rules do; a reply to a question is
    read for the values it gives."""
    last = last or LastReply(item_ids=[])
    update = read_deterministic(text, linker, last)
    if embedder is not None:
        update = read_learned(ReadingModel.default(), embedder, text, update, last)
    if update.intent == "accept" and not _takes_it(text):
        update.intent = "chit-chat"
    if last.question and last.asked:
        update = read_answer(text, last.asked, update, linker)
    return update


_LIST_SEPARATORS = re.compile(r"\s*(?:,|;|/|\band\b|\bor\b|&|\n)\s*", re.I)
_PEOPLE_ROLES = ("star", "director", "writer")


def read_answer(text: str, asked: str, base: PreferenceUpdate, linker: Linker) -> PreferenceUpdate:
    """A reply to a question about ``asked``: every value it lists is part of the answer ("Tom Hanks, Meg Ryan";
    "action, adventure, sci-fi"). Values are the linker's finds, and list items that name a genre of the catalog
    or a person of the KG exactly (any case); a reply that names none answers nothing (they could not say)."""
    update = base.model_copy(deep=True)
    chunks = [c.strip(" .!?\"'") for c in _LIST_SEPARATORS.split(text) if c.strip(" .!?\"'")]
    if asked == "genre":
        found = [*base.genres, *(g for c in chunks for g in linker.genres_of(c))]
        update.genres = values = list(dict.fromkeys(found))
    elif asked in _PEOPLE_ROLES:
        people = [n for n in (linker.person(c) for c in chunks) if n]
        update.people = values = list(dict.fromkeys([*base.people, *people]))
    elif asked == "decade":
        values = [str(y) for y in (base.year_min, base.year_max) if y is not None]
    else:
        values = list(base.mentioned_ids)
    update.answered, update.answer = asked, values
    if values and update.intent in ("chit-chat", "ask"):
        update.intent = "answer"
    return update


def read_into(
    profile: Profile, text: str, linker: Linker, last: LastReply | None = None, embedder: Any = None
) -> Profile:
    """One seeker message read without an LLM (:func:`read_message`) and folded into ``profile``: how the
    ``tools`` evaluation system and the ranker's training data follow a conversation, as the agent does."""
    text, _ = clean_message(text)
    if not text:
        return profile
    return fold_message(profile, read_message(text, linker, last, embedder), text, last)


def linker_left_gaps(update: PreferenceUpdate) -> bool:
    """Whether the deterministic reading leaves something for the LLM: titles named without a clear
    feeling about them, or a message the linker found nothing in (no item, genre, person or year)."""
    unclassified = set(update.mentioned_ids) - {*update.liked_ids, *update.disliked_ids, *update.seen_ids}
    return bool(unclassified) or (update.is_empty() and update.intent not in ("accept", "reject"))


def read_with_llm(text: str, deps: Deps, base: PreferenceUpdate) -> PreferenceUpdate:
    """Add what the LLM understood, keeping only names that exist in the catalog or the KG.

    The LLM reads the message only where the linker left gaps (see :func:`linker_left_gaps`) and
    ``deps.llm_reads_gaps``, or every message with ``deps.llm_reads_every_message``: on the embedded model each
    reading costs about a second, and what it may add is bounded to names the user wrote anyway.
    """
    if deps.llm is None or not (deps.llm_reads_every_message or (deps.llm_reads_gaps and linker_left_gaps(base))):
        return base
    prompt = [
        SystemMessage("Extract the movie preferences in the user's message as JSON. Use only what the user said."),
        HumanMessage(text[:600]),
    ]
    result = structured_result(deps.llm, LlmReading, prompt)
    if result.unavailable:  # down, slow or garbled: the rest of this turn runs on the rules alone, and says so
        deps.notices.append(f"The language model failed ({(result.error or '').split(':')[0]}); answered without it.")
        deps.llm = None
    reading = result.value
    if not isinstance(reading, LlmReading):
        return base
    catalog, genres = deps.toolkit.k.catalog, set(deps.toolkit.k.manifest["genres"])
    said = f" {normalize_title(text)} "

    def grounded(name: str) -> bool:  # the user's own words must contain it: a small model invents titles
        key = normalize_title(name)
        return bool(key) and f" {key} " in said

    # the deterministic linker's polarity stands; the LLM only adds what the linker left unclassified
    taken = {*base.liked_ids, *base.disliked_ids}

    def ids(titles: list[str]) -> list[str]:
        found = [match[0].id for t in titles if grounded(t) and (match := catalog.by_title(t))]
        return [i for i in found if i not in taken]

    def known(names: list[str], against: list[str]) -> list[str]:
        return [g.lower() for g in names if g.lower() in genres and g.lower() not in against]

    liked, disliked = ids(reading.liked_titles), ids(reading.disliked_titles)
    wanted, unwanted = known(reading.genres, base.exclude_genres), known(reading.exclude_genres, base.genres)
    merged = base.model_copy(deep=True)
    merged.liked_ids = _union(base.liked_ids, [i for i in liked if i not in disliked])
    merged.disliked_ids = _union(base.disliked_ids, [i for i in disliked if i not in liked])
    merged.genres = _union(base.genres, [g for g in wanted if g not in unwanted])
    merged.exclude_genres = _union(base.exclude_genres, [g for g in unwanted if g not in wanted])
    kg = deps.toolkit.k.kg
    people = [n for n in reading.people if grounded(n) and f"person:{n}" in kg and n not in base.exclude_people]
    merged.people = _union(base.people, people)
    if base.intent == "chit-chat" and reading.intent != "chit-chat":
        merged.intent = reading.intent
    return merged


def _union(a: list[str], b: list[str]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def remember_profile(deps: Deps, update: PreferenceUpdate) -> None:
    """Distil durable facts (liked/disliked items, excluded genres and people) into the user's memory."""
    catalog = deps.toolkit.k.catalog
    memory = deps.toolkit.k.memory
    for item_id in update.liked_ids:
        memory.remember(deps.user_id, f"likes {catalog[item_id].label}", kind="preference", item_id=item_id, polarity=1)
    for item_id in update.disliked_ids:
        memory.remember(
            deps.user_id, f"dislikes {catalog[item_id].label}", kind="preference", item_id=item_id, polarity=-1
        )
    for genre in update.exclude_genres:
        memory.remember(deps.user_id, f"does not want {genre}", kind="preference", genre=genre, polarity=-1)
    for name in update.exclude_people:
        memory.remember(deps.user_id, f"does not want {name}", kind="preference", person=name, polarity=-1)


def profile_from_memory(deps: Deps) -> Profile:
    """A new conversation starts from what this user told us before (and only this user)."""
    profile = Profile()
    for record in deps.toolkit.k.memory.all(deps.user_id):
        meta = record.meta
        item_id, polarity = str(meta.get("item_id", "")), int(meta.get("polarity", 0))
        if item_id in deps.toolkit.k.catalog:
            target = profile.liked_ids if polarity > 0 else profile.disliked_ids
            other = profile.disliked_ids if polarity > 0 else profile.liked_ids
            if item_id in other:
                other.remove(item_id)
            target.append(item_id)
        if meta.get("genre") and polarity < 0:
            profile.exclude_genres.append(str(meta["genre"]))
        if meta.get("person") and polarity < 0:
            profile.exclude_people.append(str(meta["person"]))
    profile.liked_ids = profile.liked_ids[-50:]
    profile.disliked_ids = profile.disliked_ids[-50:]
    profile.exclude_genres = list(dict.fromkeys(profile.exclude_genres))[-10:]
    profile.exclude_people = list(dict.fromkeys(profile.exclude_people))[-10:]
    return profile


def understand(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = deps_of(runtime)
    text, notices = clean_message(state.get("message", ""))
    reply = state.get("reply", {})
    last = LastReply(
        item_ids=list(reply.get("item_ids", [])),
        own=not reply.get("heard"),
        question=bool(reply.get("question")),
        asked=reply.get("asked"),
    )
    if "profile" in state:
        profile = Profile.model_validate(state["profile"])
    else:
        profile = profile_from_memory(deps) if deps.use_memory else Profile()
    base = read_message(text, deps.linker, last, deps.toolkit.k.embedder)
    update = read_with_llm(text, deps, base)
    # the LLM may add wanted genres, never lift an exclusion the user did not lift in their own words
    update.genres = [g for g in update.genres if g in base.genres or g not in profile.exclude_genres]
    refined = last.own and not last.question and bool(last.item_ids) and update.intent != "accept"
    profile = fold_message(profile, update, text, last)
    if deps.use_memory:
        remember_profile(deps, update)
    return {
        "messages": [HumanMessage(text or "(empty message)")],
        "profile": profile.model_dump(),
        "intent": update.intent,
        "paths": [],
        "bus": {"__reset__": {}},
        "ranked": [],
        "steps": 0,
        "verdicts": [],
        "notices": notices,
        "last": last.model_dump(),
        "refined": refined and not update.is_empty(),
    }
