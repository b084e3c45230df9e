"""Popularity generators: what human recommenders suggest most (not what is mentioned most), overall and
within the wanted genres (or, when none was asked for, the genres of the movies named so far).

Year bounds are hard filters, so "popular in the wanted decade" is the overall list under the filter.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from crs_agent.tools.candidates.base import Generator, GeneratorConfig, Resources, Turn

__all__ = ["PopularInScope", "PopularSuggested", "suggestion_prior"]


def suggestion_prior(resources: Resources) -> np.ndarray:
    """log(1 + suggestions) per catalog row, with a small share of mentions to break ties; a catalog without
    dialogues falls back to its interaction counts, then to the items' popularity prior."""
    if "prior" not in resources.collab_cache:
        suggested, mentioned = resources.collab_counts("suggested"), resources.collab_counts("mentioned")
        if suggested.any():
            prior = np.log1p(suggested) + 0.1 * np.log1p(mentioned)
        elif mentioned.any():
            prior = np.log1p(mentioned)
        else:
            prior = resources.popularity()
        resources.collab_cache["prior"] = prior.astype(np.float32)
    return resources.collab_cache["prior"]


class PopularSuggested(Generator):
    """The items human recommenders suggested most, under the hard filter."""

    name = "popular"

    def scores(self, turn: Turn) -> np.ndarray | None:
        return suggestion_prior(self.resources)


class ScopeConfig(GeneratorConfig):
    named_genres: int = Field(default=2, ge=0, le=5, description="Genres taken from the named movies when none asked.")


class PopularInScope(Generator):
    """The most suggested items of the wanted genres, by the share of those genres they have."""

    name = "popular_genre"
    Config = ScopeConfig
    config: ScopeConfig

    def _genres(self, turn: Turn) -> list[str]:
        if turn.profile.genres:
            return turn.profile.genres
        arrays = self.resources.arrays
        rows = turn.rows(turn.positive)
        if rows.size == 0 or not self.config.named_genres:
            return []
        counts = np.asarray(arrays.genres[rows].sum(axis=0)).ravel()
        names = list(arrays.genre_index)
        best = [c for c in np.argsort(-counts, kind="stable")[: self.config.named_genres] if counts[c] > 0]
        return [names[c] for c in best]

    def scores(self, turn: Turn) -> np.ndarray | None:
        genres = self._genres(turn)
        if not genres:
            return None
        share = sum(self.resources.arrays.genre_column(g).astype(np.float32) for g in genres) / len(genres)
        scores = share * (1.0 + suggestion_prior(self.resources))
        return np.where(share > 0, scores, np.nan).astype(np.float32)
