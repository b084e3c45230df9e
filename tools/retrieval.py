"""The agent's retrieval tools: semantic + lexical retrieval under hard filters, and expansion from liked items
(through the collaborative and KG candidate generators).

Hard constraints filter (an item that fails :meth:`ItemFilter.accepts` is never returned); soft wishes
only rank. Retrieval post-filters an over-fetched unfiltered Chroma query (fast, since most filters drop
few items; widened once) and falls back to a Chroma ``where`` query when too few survive.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from crs_agent.knowledge import ItemFilter, Knowledge, normalize_title
from crs_agent.tools.candidates import top_n
from crs_agent.tools.models import Candidate, Profile
from crs_agent.tools.ranking import RecommenderCore

__all__ = ["Retriever"]

_EXPANDERS = ("collab", "ratings", "kg")  # the generators that start from liked items


class Retriever:
    def __init__(self, knowledge: Knowledge, core: RecommenderCore | None = None) -> None:
        self.k = knowledge
        self.core = core
        self._titles = list(knowledge.catalog.title_keys())

    def lexical(self, query: str, flt: ItemFilter, limit: int = 3) -> list[Candidate]:
        """Items whose title matches the query exactly or nearly, so a named item is always found."""
        key = normalize_title(query)
        if len(key) < 2:
            return []
        exact = [(key, 100.0)]
        near = process.extract(key, self._titles, scorer=fuzz.ratio, limit=limit, score_cutoff=88)
        found: dict[str, Candidate] = {}
        for title, score, *_ in [*exact, *near]:
            for item in self.k.catalog.by_title(title):
                if item.id not in found and flt.accepts(item):
                    found[item.id] = Candidate.of(item, score / 100, "retrieve_candidates:title", lexical=score / 100)
        return list(found.values())[:limit]

    def semantic(self, query: str, flt: ItemFilter, k: int) -> list[Candidate]:
        vector = self.k.embedder([query])[0]
        allowed = self._people_ids(flt)
        hits = self._exact(vector, allowed) if allowed is not None else self._post_filtered(vector, flt, k)
        out = []
        for item_id, sim in hits:
            item = self.k.catalog[item_id]
            if flt.accepts(item):
                out.append(Candidate.of(item, sim, "retrieve_candidates:semantic", semantic=round(sim, 4)))
        return out[:k]

    def _post_filtered(self, vector: Any, flt: ItemFilter, k: int) -> list[tuple[str, float]]:
        """Unfiltered vector hits, over-fetched (then widened once) so that ``k`` pass ``flt``; Chroma's ``where``
        only when the filter keeps very few items, as it scans the metadata (0.1-0.5 s at 100k items)."""
        where = flt.where(self.k.manifest["genres"])  # first: it rejects a genre the catalog does not have
        for fetch in (3 * k, 30 * k):
            hits = self.k.items.search(vector=vector, k=fetch + len(flt.exclude_ids))
            if len(hits) < fetch + len(flt.exclude_ids) or sum(flt.accepts(self.k.catalog[i]) for i, _ in hits) >= k:
                return hits
        return self.k.items.search(vector=vector, k=k + len(flt.exclude_ids), where=where)

    def _exact(self, vector: Any, ids: list[str]) -> list[tuple[str, float]]:
        """Cosine similarity of every item in ``ids`` (a few people's credits), best first, from the index's
        normalised vectors: exact, and cheaper than Chroma's id-restricted query, which scans the collection."""
        if not ids:
            return []
        sims = self.k.vectors[[self.k.row[i] for i in ids]] @ np.asarray(vector, dtype=np.float32)
        return [(ids[n], float(sims[n])) for n in np.argsort(-sims, kind="stable")]

    def _people_ids(self, flt: ItemFilter) -> list[str] | None:
        """Items crediting every required person (via the KG), or None when no person is required."""
        if not flt.people:
            return None
        allowed: set[str] | None = None
        for name in flt.people:
            node = f"person:{name}"
            if node not in self.k.kg:
                matches = self.k.kg.resolve(name, kind="person", limit=1)
                node = matches[0][0] if matches else node
            ids = {n.removeprefix("item:") for n in self.k.kg.items_with(node)}
            allowed = ids if allowed is None else allowed & ids
        return sorted(allowed or [])

    def retrieve(self, query: str, flt: ItemFilter, k: int) -> list[Candidate]:
        lexical = self.lexical(query, flt)
        seen = {c.item_id for c in lexical}
        return lexical + [c for c in self.semantic(query, flt, k) if c.item_id not in seen][: k - len(lexical)]

    def expand(self, liked_ids: list[str], flt: ItemFilter, k: int) -> list[Candidate]:
        """Neighbours of the liked items: dialogue collaborative (EASE), MovieLens ratings and the KG, fused by
        reciprocal rank; each candidate names the generator that ranked it best and carries every score."""
        core = self.core
        if core is None:
            return []
        profile = Profile(liked_ids=liked_ids[-50:], mentioned_ids=liked_ids[-200:])
        turn = core.turn(profile, flt)
        config = core.ranker.meta.pool
        fused: dict[int, float] = {}
        components: dict[int, dict[str, float]] = {}
        best: dict[int, tuple[int, str]] = {}
        for name in _EXPANDERS:
            gen = core.generator(name)
            rows, values = top_n(gen.scores(turn) if gen else None, turn.mask, max(3 * k, 50))
            for rank, (row, value) in enumerate(zip(rows.tolist(), values.tolist(), strict=True)):
                fused[row] = fused.get(row, 0.0) + config.weights.get(name, 1.0) / (config.rrf_k + rank + 1)
                components.setdefault(row, {})[name] = round(value, 4)
                best[row] = min(best.get(row, (rank, name)), (rank, name))
        ids = core.resources.arrays.ids
        order = sorted(fused, key=lambda r: (-fused[r], r))[:k]
        return [
            Candidate.of(self.k.catalog[ids[r]], fused[r], f"expand_from_liked:{best[r][1]}", **components[r])
            for r in order
        ]
