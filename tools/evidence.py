"""What an answer to a question says about each item: the likelihood model behind ranking and asking.

A seeker asked "which actors?" names values of the movie they have in mind. Each value an item has is
what such a seeker would say; each value it lacks is unlikely (``MISS``, relative), so an answer listing
several values is evidence for each of them, and most for the items that have them together. An answer
that gives no value (they could not say) is no evidence at all. The same model scores a question before
it is asked (:func:`question_gain`): the expected chance that the target is in the shown list after the
answer, against the chance it is there already.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from crs_agent.knowledge import Catalog, Item, normalize_title

__all__ = ["MISS", "answer_loglik", "item_values", "pinned_share", "question_gain", "with_evidence"]

MISS = 0.05  # how much less likely a seeker names a value the item lacks than one it has


def _key(value: str) -> str:
    return normalize_title(value) or value.strip().lower()


def item_values(item: Item, attribute: str) -> frozenset[str]:
    """The item's values of an attribute ("genre", "decade", or a role such as "star", "director"), normalised."""
    if attribute == "genre":
        return frozenset(_key(g) for g in item.genres)
    if attribute == "decade":
        return frozenset([item.decade]) if item.decade else frozenset()
    return frozenset(_key(name) for name in item.people.get(attribute, []))


def answer_loglik(items: Sequence[Item], answers: dict[str, list[str]]) -> np.ndarray:
    """log P(answers | item is the one meant), up to a constant: log(MISS) per answered value it lacks."""
    misses = np.zeros(len(items))
    for attribute, values in answers.items():
        wanted = {_key(v) for v in values if v.strip()}
        if attribute == "decade" or not wanted:
            continue  # a period is a hard filter already; "no idea" is no evidence
        misses += [len(wanted - item_values(item, attribute)) for item in items]
    return misses * math.log(MISS)


def with_evidence(
    scored: list[tuple[str, float]], catalog: Catalog, answers: dict[str, list[str]]
) -> list[tuple[str, float]]:
    """``(id, calibrated score)`` re-scored by the answers, best first. An item with every answered value keeps
    its score; each answered value it lacks multiplies it by ``MISS``."""
    if not answers or not scored:
        return scored
    loglik = answer_loglik([catalog[i] for i, _ in scored], answers)
    loglik -= loglik.max()
    rescored = [(i, s * math.exp(ll)) for (i, s), ll in zip(scored, loglik, strict=True)]
    return sorted(rescored, key=lambda pair: -pair[1])


@functools.lru_cache(maxsize=16)
def pinned_share(catalog: Catalog, attribute: str, shown: int) -> float:
    """The share of the catalog's items that an answer about ``attribute`` would single out: items whose
    values fewer than ``shown`` items have all of (a cast does; a decade never does). It is what asking is
    worth for a target the ranking has not found yet: an answer brings it in from anywhere."""
    items = list(catalog)
    holders: dict[str, set[int]] = {}
    values = [item_values(item, attribute) for item in items]
    for n, vals in enumerate(values):
        for v in vals:
            holders.setdefault(v, set()).add(n)
    pinned = sum(bool(vals) and len(set.intersection(*(holders[v] for v in vals))) <= shown for vals in values)
    return pinned / len(items) if items else 0.0


def question_gain(
    scored: list[tuple[str, float]], catalog: Catalog, attribute: str, shown: int, beyond: bool = True
) -> float:
    """Expected gain of asking about ``attribute``: P(target in the top ``shown`` after the answer) minus
    P(target in the top ``shown`` now). The calibrated scores of ``scored`` (best first) are each item's chance
    of being the one meant; the rest of that chance lies outside the ranking, where an answer finds the target
    as often as it singles an item out (:func:`pinned_share`). The answer is taken to be the values of the item
    meant; one without values answers nothing. ``beyond=False``: the ranking already holds every item that fits
    what the seeker said (an earlier answer named values), so nothing is left outside it."""
    if len(scored) <= shown:
        return 0.0
    prior = np.asarray([max(s, 1e-9) for _, s in scored])
    prior /= max(1.0, float(prior.sum()))
    outside = 1.0 - float(prior.sum()) if beyond else 0.0
    values = [item_values(catalog[i], attribute) for i, _ in scored]
    vocab = {v: n for n, v in enumerate(sorted(set().union(*values)))}
    if not vocab:
        return 0.0
    has = np.zeros((len(scored), len(vocab)), dtype=np.float32)
    for row, vals in enumerate(values):
        has[row, [vocab[v] for v in vals]] = 1.0
    misses = has.sum(axis=1)[:, None] - has @ has.T  # [i, j]: values of i that j lacks
    posterior = np.log(prior)[None, :] + misses * math.log(MISS)  # row i: after the answer "values of i"
    own = np.diag(posterior)[:, None]
    earlier = np.tri(len(scored), k=-1, dtype=bool)  # [i, j]: j comes before i now (ties keep today's order)
    rank = ((posterior > own) | ((posterior == own) & earlier)).sum(axis=1)
    answered = has.sum(axis=1) > 0
    now = np.arange(len(scored)) < shown
    after = np.where(answered, rank < shown, now)
    return float(prior @ after - prior @ now) + outside * pinned_share(catalog, attribute, shown)
