"""The catalog as arrays, built once per index: years, genre and people incidence, item relations, and the
hard filter as a boolean mask over catalog rows (exactly :meth:`ItemFilter.accepts`, vectorised)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from crs_agent.knowledge import ItemFilter, Knowledge

__all__ = ["ROLE_WEIGHTS", "CatalogArrays"]

# How much sharing one person in each role says about two items (a director more than one of many stars).
ROLE_WEIGHTS = {"director": 1.0, "writer": 0.7, "author": 1.0, "star": 0.5, "actor": 0.5}
_OTHER_ROLE = 0.5


def _incidence(rows: list[int], cols: list[int], vals: list[float], shape: tuple[int, int]) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    return matrix


class CatalogArrays:
    """Row ``i`` is ``knowledge.catalog.ids()[i]`` (the order of ``knowledge.vectors``)."""

    def __init__(self, knowledge: Knowledge) -> None:
        items = list(knowledge.catalog)
        self.ids = [item.id for item in items]
        self.row = knowledge.row
        self.size = len(items)
        self.years = np.array([item.year or np.nan for item in items], dtype=np.float32)
        self.genre_index = {g: n for n, g in enumerate(sorted({g for item in items for g in item.genres}))}
        self.person_index: dict[str, int] = {}
        self.people_names: list[str] = []
        g_rows, g_cols, p_rows, p_cols, p_vals = [], [], [], [], []
        for n, item in enumerate(items):
            for genre in set(item.genres):
                g_rows.append(n)
                g_cols.append(self.genre_index[genre])
            for role, names in item.people.items():
                for name in names:
                    p_rows.append(n)
                    p_cols.append(self._person(name))
                    p_vals.append(ROLE_WEIGHTS.get(role, _OTHER_ROLE))
        self.genres = _incidence(g_rows, g_cols, [1.0] * len(g_rows), (self.size, len(self.genre_index)))
        people = _incidence(p_rows, p_cols, p_vals, (self.size, len(self.person_index)))
        people.data = np.minimum(people.data, 1.0)  # several roles on one item: the strongest, capped
        self.people = people
        self.genres_csc, self.people_csc = self.genres.tocsc(), self.people.tocsc()
        self.person_degree = np.asarray((people > 0).sum(axis=0)).ravel().astype(np.float32)
        self.n_genres = np.diff(self.genres.indptr).astype(np.float32)
        self.n_people = np.diff(self.people.indptr).astype(np.float32)
        self.rating_counts = np.array([item.ratings for item in items], dtype=np.float32)
        self.popularity = np.array([item.popularity for item in items], dtype=np.float32)
        self.has_facts = np.array([item.has_facts for item in items], dtype=np.float32)
        self.relations = self._relations(items)

    def _person(self, name: str) -> int:
        key = name.lower()
        if key not in self.person_index:
            self.person_index[key] = len(self.person_index)
            self.people_names.append(name)
        return self.person_index[key]

    def _relations(self, items: list) -> sparse.csr_matrix:
        pairs = [
            (n, self.row[other]) for n, item in enumerate(items) for _, other in item.relations if other in self.row
        ]
        rows = [a for a, b in pairs] + [b for a, b in pairs]
        cols = [b for a, b in pairs] + [a for a, b in pairs]
        return _incidence(rows, cols, [1.0] * len(rows), (self.size, self.size))

    def rows_of(self, ids: list[str]) -> np.ndarray:
        return np.array([self.row[i] for i in ids if i in self.row], dtype=np.int64)

    def genre_column(self, genre: str) -> np.ndarray:
        """Boolean: which items have ``genre``."""
        out = np.zeros(self.size, dtype=bool)
        col = self.genre_index.get(genre.lower())
        if col is not None:
            out[self.genres_csc.indices[self.genres_csc.indptr[col] : self.genres_csc.indptr[col + 1]]] = True
        return out

    def person_column(self, name: str) -> np.ndarray:
        """Per item, the role weight with which it credits ``name`` (0 when it does not)."""
        out = np.zeros(self.size, dtype=np.float32)
        col = self.person_index.get(name.lower())
        if col is not None:
            start, end = self.people_csc.indptr[col], self.people_csc.indptr[col + 1]
            out[self.people_csc.indices[start:end]] = self.people_csc.data[start:end]
        return out

    def mask(self, flt: ItemFilter) -> np.ndarray:
        """Which rows ``flt`` accepts."""
        keep = np.ones(self.size, dtype=bool)
        for genre in flt.genres:
            keep &= self.genre_column(genre)
        for genre in flt.exclude_genres:
            keep &= ~self.genre_column(genre)
        for name in flt.people:
            keep &= self.person_column(name) > 0
        for name in flt.exclude_people:
            keep &= self.person_column(name) == 0
        with np.errstate(invalid="ignore"):
            if flt.year_min is not None:
                keep &= self.years >= flt.year_min
            if flt.year_max is not None:
                keep &= self.years <= flt.year_max
        keep[self.rows_of(flt.exclude_ids)] = False
        return keep
