"""Deterministic entity linker: items, genres, people, decades and year bounds named in a user message.

Everything is precomputed once in :class:`Linker` (title, name and genre dictionaries keyed by the
normalised token sequence), so :meth:`Linker.link` is a single left-to-right scan: at each token the
longest dictionary match wins, then every match gets a polarity from the few tokens before it in its
clause ("no horror", "didn't like X") and, for items, from the words right after it ("X was boring").
Single common words ("Up", "Heat", "Her") only link as titles with a "(year)" or in quotes.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from crs_agent.knowledge.graph import KnowledgeGraph
from crs_agent.knowledge.items import Catalog, Item, normalize_title
from crs_agent.tools import lexicon as lex

__all__ = ["LinkResult", "Linker"]


class LinkResult(BaseModel):
    """What a message names: items with the speaker's stance, wanted/excluded attributes, year bounds."""

    liked_ids: list[str] = Field(default_factory=list, description="Items mentioned positively or neutrally.")
    disliked_ids: list[str] = Field(default_factory=list, description="Items the speaker did not like.")
    seen_ids: list[str] = Field(default_factory=list, description="Items the speaker says they have seen.")
    mentioned_ids: list[str] = Field(default_factory=list, description="Every linked item, first appearance first.")
    genres: list[str] = Field(default_factory=list, description="Wanted genres (catalog names).")
    exclude_genres: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list, description="Wanted people (KG names).")
    exclude_people: list[str] = Field(default_factory=list)
    decades: list[str] = Field(default_factory=list, description='e.g. "1980s".')
    year_min: int | None = None
    year_max: int | None = None
    era_min: int | None = Field(default=None, description='A loose lower bound ("something recent"): a wish.')
    era_max: int | None = Field(default=None, description='A loose upper bound ("old movies", "classics"): a wish.')
    spans: list[tuple[str, str, str]] = Field(default_factory=list, description="(kind, canonical, matched text).")


@dataclass(frozen=True, slots=True)
class _Token:
    norm: str
    start: int
    end: int
    cap: bool
    mention: bool = False


@dataclass(slots=True)
class _Span:
    kind: str  # "item", "person" or "genre"
    start: int  # token indices, end exclusive
    end: int
    values: tuple[str, ...]
    chars: tuple[int, int]  # character offsets of the matched text


@dataclass(slots=True)
class _Stance:
    negated: bool = False
    seen: bool = False
    unseen: bool = False


@dataclass(slots=True)
class _Message:
    """One message's tokens with per-token clause ids, sentence starts, negation cues and span owners."""

    text: str
    tokens: list[_Token]
    norms: list[str] = field(default_factory=list)
    clause: list[int] = field(default_factory=list)
    initial: list[bool] = field(default_factory=list)
    cue: list[bool] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)  # start token of the span that owns a token, else -1

    def chars(self, start: int, end: int) -> tuple[int, int]:
        return self.tokens[start].start, self.tokens[end - 1].end

    def free(self, k: int) -> bool:
        return 0 <= k < len(self.tokens) and self.owner[k] < 0


def _fold(raw: str) -> list[str]:
    """Text as normalised tokens, the way ``normalize_title`` sees it (accents dropped, lower-case ascii)."""
    if raw.isascii() and raw.isalnum():
        return [raw.lower()]
    raw = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    return lex.NON_ALNUM_RE.sub(" ", raw.lower()).split()


def _tokenize(text: str) -> list[_Token]:
    cased = any(ch.islower() for ch in text)  # an all-caps message says nothing about proper nouns
    tokens: list[_Token] = []
    for match in lex.TOKEN_RE.finditer(text):
        raw, start, end = match.group(), match.start(), match.end()
        if raw[0] == "@":
            tokens.append(_Token(raw[1:], start, end, False, True))
            continue
        for piece in _fold(raw):
            tokens.append(_Token(piece, start, end, cased and raw[0].isupper()))
    return tokens


def _is_cue(norms: list[str], k: int) -> bool:
    word, prev = norms[k], norms[k - 1] if k else ""
    if word in lex.NEGATIONS:
        cue = True
    elif word == "t":
        cue = prev in lex.NT_STEMS
    elif word == "but":
        cue = prev in ("anything", "everything", "all")
    elif word == "of":  # "not a (big) fan of", "sick of", "tired of"
        cue = prev in ("sick", "tired") or (
            prev in ("fan", "fans") and any(w in ("not", "no", "never", "t") for w in norms[max(0, k - 5) : k])
        )
    else:
        cue = False
    return cue and (k + 1 >= len(norms) or norms[k + 1] not in lex.CUE_CANCEL)


def _prepare(text: str) -> _Message:
    msg = _Message(text, _tokenize(text))
    msg.norms = [t.norm for t in msg.tokens]
    clause, prev_end = 0, 0
    for k, token in enumerate(msg.tokens):
        gap = text[prev_end : token.start]
        cue = _is_cue(msg.norms, k)
        if k and (not lex.CLAUSE_CHARS.isdisjoint(gap) or (token.norm in lex.CLAUSE_WORDS and not cue)):
            clause += 1
        msg.clause.append(clause)
        msg.initial.append(k == 0 or not lex.SENTENCE_CHARS.isdisjoint(gap))
        msg.cue.append(cue)
        prev_end = token.end
    msg.owner = [-1] * len(msg.tokens)
    return msg


def _key(text: str) -> str:
    return " ".join(_fold(text))


def _title_index(catalog: Catalog) -> dict[str, list[str]]:
    """``catalog.title_keys()`` without the "title year" label keys (a following year is matched apart)."""
    index: dict[str, list[str]] = {}
    for key, ids in catalog.title_keys().items():
        kept = [i for i in ids if not _label_only(catalog[i], key)]
        if kept and len(key.split()) <= lex.MAX_NGRAM:
            index[key] = sorted(kept, key=lambda i: -catalog[i].popularity)
    return index


def _label_only(item: Item, key: str) -> bool:
    if not item.year or key != normalize_title(item.label) or key == normalize_title(item.title):
        return False
    return key not in {normalize_title(alias) for alias in item.aliases}


def _word_classes(catalog: Catalog, words: set[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Ordinary words read off the item descriptions: (common: in many of them, rare: in fewer than 3)."""
    counts: Counter[str] = Counter()
    documents = 0
    for item in catalog:
        if item.description:
            documents += 1
            counts.update(words.intersection(re.findall(r"[a-z0-9]+", item.description.lower())))
    many = max(20, documents * 0.003)
    return frozenset(w for w, c in counts.items() if c >= many), frozenset(w for w in words if counts[w] < 3)


def _genre_index(genres: list[str]) -> dict[str, tuple[str, ...]]:
    """Normalised phrase -> catalog genres: synonyms of genres the catalog has, plus its own genre names."""
    by_key = {_key(genre): genre for genre in genres}
    index: dict[str, tuple[str, ...]] = {}
    for concept, surfaces in lex.GENRE_SYNONYMS.items():
        keys = [_key(concept), *surfaces]
        target = next((by_key[k] for k in keys if k in by_key), None)
        if target is not None:
            index.update(dict.fromkeys(surfaces, (target,)))
    pair = tuple(index[k][0] for k in ("romance", "comedy") if k in index)
    if pair:
        index.update(dict.fromkeys(lex.ROMCOM, pair))
    covered = {genre for genres in index.values() for genre in genres}
    for key, genre in by_key.items():
        if genre not in covered:  # a catalog's own genre: its plural too ("dystopians", "mysteries")
            index.setdefault(key[:-1] + "ies" if key.endswith("y") else key + "s", (genre,))
        index[key] = (genre,)
    return index


def _person_index(kg: KnowledgeGraph) -> tuple[dict[str, str], dict[str, list[tuple[int, str]]], Counter[str]]:
    """Full-name key -> KG name (best-connected namesake wins), surname -> [(degree, name)], first-name counts."""
    full: dict[str, tuple[int, str]] = {}
    by_last: dict[str, list[tuple[int, str]]] = {}
    firsts: Counter[str] = Counter()
    for node, data in kg.graph.nodes(data=True):
        if data.get("kind") != "person" or not data.get("name"):
            continue
        name, tokens = data["name"], _fold(data["name"])
        while len(tokens) > 1 and tokens[-1] in lex.SUFFIXES:
            tokens = tokens[:-1]
        if not tokens:
            continue
        degree = len(kg.items_with(node))
        if 2 <= len(tokens) <= lex.MAX_NGRAM and (degree, name) > full.get(" ".join(tokens), (-1, "")):
            full[" ".join(tokens)] = (degree, name)
        by_last.setdefault(tokens[-1], []).append((degree, name))
        firsts[tokens[0]] += len(tokens) > 1
    return {key: name for key, (_, name) in full.items()}, by_last, firsts


def _surnames(by_last: dict[str, list[tuple[int, str]]], blocked: set[str] | frozenset[str]) -> dict[str, str]:
    """Surnames that clearly mean one person: at least two items and twice as many as any namesake."""
    out: dict[str, str] = {}
    for last, found in by_last.items():
        if last in blocked or len(last) < 4 or not last.isalpha():
            continue
        found.sort(reverse=True)
        top, second = found[0][0], found[1][0] if len(found) > 1 else 0
        if top >= 2 and top >= 2 * second:
            out[last] = found[0][1]
    return out


def _all_common(key: str, common: frozenset[str]) -> bool:
    return all(word in common or word in lex.MINOR or word.isdigit() for word in key.split())


class Linker:
    """Links a message to catalog items, genres, KG people and year constraints; see the module docstring."""

    def __init__(self, catalog: Catalog, kg: KnowledgeGraph) -> None:
        self._catalog = catalog
        self._titles = _title_index(catalog)
        self._genres = _genre_index(catalog.genres())
        genre_words = {word for key in self._genres for word in key.split()}
        self._blocked = (
            lex.STOPWORDS | genre_words | lex.MOVIE_WORDS | lex.DECADE_WORDS.keys() | lex.NEGATIONS | lex.NT_STEMS
        )
        self._people, by_last, firsts = _person_index(kg)
        words = {word for key in (*self._titles, *self._people) for word in key.split()} | {*by_last}
        common, self._rare = _word_classes(catalog, words)
        self._ordinary = self._blocked | common
        common_first = {name for name, count in firsts.items() if count >= 3}
        self._surnames = _surnames(by_last, self._ordinary | common_first)
        self._cased_people = frozenset(k for k in self._people if _all_common(k, self._ordinary))
        self._title_level = {k: level for k in self._titles if (level := self._level(k))}
        self._keys = {*self._titles, *self._people, *self._genres}
        self._prefixes = {key[: m.start()] for key in self._keys for m in re.finditer(" ", key)}
        years = [item.year for item in catalog if item.year]
        self._recent_min = max(years) - lex.RECENT_YEARS if years else None

    def _level(self, key: str) -> int:
        """0: links on sight; 1: needs title case (or year/quotes); 2: needs a "(year)" or quotes."""
        words = key.split()
        if len(key) - len(words) + 1 < 5 or all(word in lex.MINOR or word.isdigit() for word in words):
            return 2
        if len(words) == 1:
            return 2 if key in self._blocked or not key.isalpha() else 1
        return 1 if _all_common(key, self._ordinary) else 0

    # -- single values (a reply listing several) -------------------------------------------------------
    def person(self, text: str) -> str | None:
        """The KG person whose full name ``text`` is (any case, accents and punctuation aside), else None."""
        tokens = _fold(text)
        while len(tokens) > 1 and tokens[-1] in lex.SUFFIXES:
            tokens = tokens[:-1]
        return self._people.get(" ".join(tokens))

    def genres_of(self, text: str) -> tuple[str, ...]:
        """The catalog genres ``text`` names as a whole ("Sci-Fi", "science fiction", "rom-com"), else ()."""
        return self._genres.get(_key(text), ())

    # -- linking ------------------------------------------------------------------------------------
    def link(self, text: str) -> LinkResult:
        """Everything ``text`` names; never raises, whatever the string."""
        text = "" if text is None else str(text)[: lex.MAX_CHARS]
        msg = _prepare(text)
        spans = self._scan(msg)
        result = LinkResult()
        for span in spans:
            if span.kind == "item":
                self._add_item(msg, span, result)
            else:
                self._add_attribute(msg, span, result)
        self._add_times(msg, result)
        result.liked_ids = [i for i in result.liked_ids if i not in result.disliked_ids]
        result.genres = [g for g in result.genres if g not in result.exclude_genres]
        result.people = [p for p in result.people if p not in result.exclude_people]
        return result

    def _scan(self, msg: _Message) -> list[_Span]:
        spans: list[_Span] = []
        k = 0
        while k < len(msg.tokens):
            span = self._match_at(msg, k)
            if span is None:
                k += 1
                continue
            msg.owner[span.start : span.end] = [span.start] * (span.end - span.start)
            spans.append(span)
            k = span.end
        return spans

    def _match_at(self, msg: _Message, k: int) -> _Span | None:
        token = msg.tokens[k]
        if token.mention:
            return _Span("item", k, k + 1, (token.norm,), msg.chars(k, k + 1)) if token.norm in self._catalog else None
        for end, key in reversed(self._candidates(msg, k)):
            span = self._person(msg, k, end, key) or self._title(msg, k, end, key) or self._genre(msg, k, end, key)
            if span is not None:
                return span
        return self._surname(msg, k)

    def _candidates(self, msg: _Message, k: int) -> list[tuple[int, str]]:
        """Every (end, key) such that tokens k..end spell a known title, name or genre phrase."""
        found: list[tuple[int, str]] = []
        key = msg.norms[k]
        for end in range(k + 1, min(k + lex.MAX_NGRAM, len(msg.tokens)) + 1):
            if end > k + 1:
                if msg.tokens[end - 1].mention:
                    break
                key = f"{key} {msg.norms[end - 1]}"
            if key in self._keys:
                found.append((end, key))
            if key not in self._prefixes:
                break
        return found

    def _title(self, msg: _Message, start: int, end: int, key: str) -> _Span | None:
        ids = self._titles.get(key)
        if ids is None:
            return None
        year, year_end, char_end = _year_after(msg, end)
        if not (char_end is not None or _quoted(msg, start, end) or self._title_cased(msg, start, end, key)):
            return None
        chosen = next((i for i in ids if year and self._catalog[i].year == year), None)
        if chosen is None and char_end is None:
            year_end = end
        chars = msg.chars(start - (start > 0 and msg.norms[start - 1] in lex.ARTICLES), year_end)
        if char_end is not None:
            chars = (chars[0], char_end)
        return _Span("item", start, year_end, (chosen or ids[0],), chars)

    def _title_cased(self, msg: _Message, start: int, end: int, key: str) -> bool:
        """Whether a title without a year or quotes may link: always, or when written as a title."""
        level = self._title_level.get(key, 0)
        if level != 1 or key in self._surnames:
            return level == 0
        if end - start == 1:  # a lone capitalised word, not part of a longer name ("Tracey Morgan")
            if any(msg.free(k) and self._proper(msg, k) for k in (start - 1, start + 1)):
                return False
            return msg.tokens[start].cap and (not msg.initial[start] or key in self._rare)
        return _all_capitalised(msg, start, end)

    def _proper(self, msg: _Message, k: int) -> bool:
        """Token ``k`` looks like part of a proper name: capitalised mid-sentence and not an ordinary word."""
        return msg.tokens[k].cap and not msg.initial[k] and msg.norms[k] not in self._blocked

    def _person(self, msg: _Message, start: int, end: int, key: str) -> _Span | None:
        name = self._people.get(key)
        if name is None or (key in self._cased_people and not _all_capitalised(msg, start, end)):
            return None
        return _Span("person", start, end, (name,), msg.chars(start, end))

    def _surname(self, msg: _Message, k: int) -> _Span | None:
        name = self._surnames.get(msg.norms[k])
        if name is None or not msg.tokens[k].cap or (msg.initial[k] and msg.norms[k] not in self._rare):
            return None
        if k and msg.norms[k - 1] in lex.ARTICLES and msg.norms[k] not in self._rare:  # "the Hunter", not "the Nolan"
            return None
        return _Span("person", k, k + 1, (name,), msg.chars(k, k + 1))

    def _genre(self, msg: _Message, start: int, end: int, key: str) -> _Span | None:
        genres = self._genres.get(key)
        if genres is None:
            return None
        if _key(genres[0]) in lex.WEAK_GENRES and (end >= len(msg.norms) or msg.norms[end] not in lex.MOVIE_WORDS):
            return None
        return _Span("genre", start, end, genres, msg.chars(start, end))

    # -- stances and results ------------------------------------------------------------------------
    def _add_item(self, msg: _Message, span: _Span, result: LinkResult) -> None:
        item_id = span.values[0]
        stance = _stance(msg, span.start, item=True)
        negative = stance.negated or _negative_after(msg, span.end)
        _append(result.mentioned_ids, item_id)
        if negative:
            _append(result.disliked_ids, item_id)
        elif not stance.unseen:
            _append(result.liked_ids, item_id)
        if stance.seen and not stance.unseen:
            _append(result.seen_ids, item_id)
        title = self._catalog[item_id].label
        result.spans.append(("disliked_item" if negative else "item", item_id, msg.text[slice(*span.chars)] or title))

    def _add_attribute(self, msg: _Message, span: _Span, result: LinkResult) -> None:
        negated = _stance(msg, span.start).negated
        if span.kind == "genre":
            target, kind = (result.exclude_genres, "exclude_genre") if negated else (result.genres, "genre")
        else:
            target, kind = (result.exclude_people, "exclude_person") if negated else (result.people, "person")
        for value in span.values:
            _append(target, value)
            result.spans.append((kind, value, msg.text[slice(*span.chars)]))

    def _add_times(self, msg: _Message, result: LinkResult) -> None:
        """Decades and year bounds (hard); the vague "recent"/"old" only as a loose era, where no bound is given."""
        bounds: list[list[int]] = [[], [], []]
        vague: dict[str, int] = {}
        for k in range(len(msg.tokens)):
            if not msg.free(k):
                continue
            found = _decade_at(msg.norms, k) or _year_at(msg.norms, k)
            if found is not None:
                _add_bound(msg, k, found, result, bounds)
            elif (word := _vague_at(msg.norms, k)) and not _stance(msg, k).negated:
                year = self._recent_min if word == "recent" else lex.OLD_YEAR_MAX
                if year is not None and word not in vague:
                    vague[word] = year
                    kind = "era_min" if word == "recent" else "era_max"
                    result.spans.append((kind, str(year), msg.text[slice(*msg.chars(k, k + 1))]))
        decades = [min(bounds[2]), max(bounds[2])] if bounds[2] else []  # "80s or 90s": 1980-1999
        lows, highs = [*bounds[0], *decades[:1]], [*bounds[1], *decades[1:]]
        if len(vague) == 1 and not (lows or highs):  # "old or new" wishes for neither
            result.era_min, result.era_max = vague.get("recent"), vague.get("old")
        result.year_min = max(lows) if lows else None
        result.year_max = min(highs) if highs else None
        if result.year_min is not None and result.year_max is not None and result.year_min > result.year_max:
            _keep_last_bound(result, decades)  # "the 20s... no, after 2000": bounds that cannot both hold


def _keep_last_bound(result: LinkResult, decades: list[int]) -> None:
    """Contradictory year bounds: the one stated last stands (a decade sets both), the other is dropped."""
    last = next(kind for kind, _, _ in reversed(result.spans) if kind in ("year_min", "year_max", "decade"))
    if last == "decade":
        result.year_min, result.year_max = decades[0], decades[1]
    elif last == "year_min":
        result.year_max = None
    else:
        result.year_min = None


def _append(values: list[str], value: str) -> None:
    if value not in values:
        values.append(value)


def _all_capitalised(msg: _Message, start: int, end: int) -> bool:
    words = [k for k in range(start, end) if msg.norms[k] not in lex.MINOR]
    return bool(words) and all(msg.tokens[k].cap for k in words)


def _year_after(msg: _Message, end: int) -> tuple[int | None, int, int | None]:
    """A year right after a title: (year, token end including it, character end when in brackets)."""
    if end >= len(msg.tokens):
        return None, end, None
    token = msg.tokens[end]
    match = lex.PAREN_YEAR_RE.match(msg.text, msg.tokens[end - 1].end)
    if match and match.start(1) == token.start:
        return int(token.norm), end + 1, match.end()
    if len(token.norm) == 4 and token.norm.isdigit() and not msg.text[msg.tokens[end - 1].end : token.start].strip():
        return int(token.norm), end + 1, None
    return None, end, None


def _quoted(msg: _Message, start: int, end: int) -> bool:
    """The title is written "in quotes", or as ReDial's unresolved "@Title"."""
    first = start - 1 if start and msg.norms[start - 1] in lex.ARTICLES else start
    if first != start and msg.text[msg.tokens[first].end : msg.tokens[start].start].strip():
        first = start
    left, right = msg.tokens[first].start - 1, msg.tokens[end - 1].end
    if left >= 0 and msg.text[left] == "@":
        return True
    return left >= 0 and right < len(msg.text) and msg.text[left] in lex.QUOTES and msg.text[right] in lex.QUOTES


def _scope(msg: _Message, start: int) -> list[int]:
    """Free tokens before ``start`` in its clause, nearest first, at most lex.SCOPE units (a span is one unit)."""
    out: list[int] = []
    k, units = start - 1, 0
    while k >= 0 and units < lex.SCOPE and msg.clause[k] == msg.clause[start]:
        if msg.owner[k] >= 0:
            k = msg.owner[k] - 1
        else:
            out.append(k)
            k -= 1
        units += 1
    return out


def _cue_near(msg: _Message, k: int) -> int:
    """A negation cue among the two tokens before ``k`` in its clause (its index), else -1."""
    for m in (k - 1, k - 2):
        if m >= 0 and msg.clause[m] == msg.clause[k] and msg.cue[m]:
            return m
    return -1


def _stance(msg: _Message, start: int, item: bool = False) -> _Stance:
    """Negation and "seen" read from the words before an entity ("didn't like X", "haven't seen X").

    A cue right before a verb of knowing ("haven't heard of X", for items also "never saw X") makes the
    mention neutral rather than negative; "don't mind", "can't beat", "don't forget" make it positive.
    """
    aware, seen = -1, False
    for k in _scope(msg, start):
        word = msg.norms[k]
        if word in lex.NEUTRALIZERS:
            return _Stance(seen=seen)
        cue = k if msg.cue[k] else (_cue_near(msg, k) if word in lex.POSITIVE else -1)
        if cue == k and 0 <= aware - k <= 2:
            return _Stance(unseen=True)
        if cue >= 0:
            past = word in lex.PAST or msg.norms[cue] in lex.PAST or (cue > 0 and msg.norms[cue - 1] == "didn")
            return _Stance(negated=True, seen=past)
        if word in lex.POSITIVE:
            return _Stance(seen=seen or word in lex.PAST)
        if word in (lex.AWARE_ITEM if item else lex.AWARE) and not (k and msg.norms[k - 1] == "you"):
            aware, seen = k, seen or word in lex.SEEN
    return _Stance(seen=seen)


def _negative_after(msg: _Message, end: int) -> bool:
    """ "X was boring", "X wasn't good", "X sucked" (and not "X was not bad", "want to see X really bad")."""
    linked = False
    for k in range(end, min(end + lex.SCOPE + 2, len(msg.tokens))):
        if msg.clause[k] != msg.clause[end - 1] or not msg.free(k):
            return False
        word, flipped = msg.norms[k], _cue_near(msg, k) >= end
        if word in lex.BAD_VERBS:
            return not flipped
        linked = linked or word in lex.COPULAS
        if linked and word in lex.NEG_AFTER:
            return not flipped
        if linked and word in lex.POS_AFTER:
            return flipped
    return False


def _decade_at(norms: list[str], k: int) -> tuple[int, int, int] | None:
    """(first year, last year, tokens used) for "80s", "1980s", "80's", "eighties"."""
    word = norms[k]
    if word in lex.DECADE_WORDS:
        return lex.DECADE_WORDS[word], lex.DECADE_WORDS[word] + 9, 1
    used = 1
    if word.isdigit() and k + 1 < len(norms) and norms[k + 1] == "s":
        word, used = word + "s", 2
    match = lex.DECADE_RE.fullmatch(word)
    if not match or not match.group(1).endswith("0"):
        return None
    value = int(match.group(1))
    first = value if value >= 100 else (1900 + value if value >= 20 else 2000 + value)
    return first, first + 9, used


def _year_at(norms: list[str], k: int) -> tuple[int, int, int] | None:
    word = norms[k]
    if len(word) == 4 and word.isdigit() and 1880 <= int(word) <= 2039:
        return int(word), int(word), 1
    return None


def _time_cue(norms: list[str], k: int) -> tuple[str, int, int] | None:
    """The cue before a year or decade at ``k``: (bound, offset, first cue token).

    bound is "low" ("after", "since", "newer than"), "high" ("before", "until", "older than", "prior to")
    or "skip" (possessive: "in my 20s" is an age); None means a bare decade ("80s", "from the 90s").
    """
    j = k - 1
    while j >= 0 and norms[j] in ("the", "early", "late", "mid"):
        j -= 1
    if j < 0:
        return None
    word, prev = norms[j], norms[j - 1] if j else ""
    if word in lex.POSSESSIVE:
        return "skip", 0, j
    if word in ("than", "to"):
        word = prev if word == "than" else {"prior": "before", "up": "until"}.get(prev, "")
        j -= 1
    if word in lex.LOWER_CUES:
        return "low", lex.LOWER_CUES[word], j
    if word in lex.UPPER_CUES:
        return "high", lex.UPPER_CUES[word], j
    return None


def _add_bound(msg: _Message, k: int, found: tuple[int, int, int], result: LinkResult, bounds: list[list[int]]) -> None:
    """A year or decade at ``k`` as a decade wish or a bound (``bounds``: lows, highs, decade years)."""
    first, last, used = found
    cue = _time_cue(msg.norms, k)
    if cue is not None and cue[0] != "skip" and _stance(msg, cue[2]).negated:  # "nothing older than 1990"
        cue = lex.FLIPPED[cue[:2]] + cue[2:]
    text = msg.text[msg.tokens[cue[2] if cue else k].start : msg.tokens[k + used - 1].end]
    if cue is None and first != last and not _stance(msg, k).negated:
        _append(result.decades, f"{first}s")
        bounds[2].extend((first, last))
        result.spans.append(("decade", f"{first}s", text))
    elif cue is not None and cue[0] == "low":
        bounds[0].append(first + cue[1] * (last - first + 1))
        result.spans.append(("year_min", str(bounds[0][-1]), text))
    elif cue is not None and cue[0] == "high":
        bounds[1].append(last if cue[1] == 0 else first - 1)
        result.spans.append(("year_max", str(bounds[1][-1]), text))


def _vague_at(norms: list[str], k: int) -> str | None:
    """ "recent", "new movies", "something newer" -> "recent"; "old movies", "classics" -> "old"."""
    word = norms[k]
    before, after = norms[k - 1] if k else "", norms[k + 1] if k + 1 < len(norms) else ""
    loose = after in lex.AGE_NOUNS or before in ("something", "anything")
    if after == "than":
        return None
    if word in lex.RECENT or (word == "new" and after in lex.AGE_NOUNS) or (word == "recently" and after == "released"):
        return "recent"
    if word in lex.OLD or (word == "classic" and before not in lex.NOT_OLD) or (word in ("old", "older") and loose):
        return "old"
    return None
