"""The ranker's features for every pooled candidate of one turn, as one float32 matrix (NaN = missing).

Groups (each can be dropped in the fit's ablations):
- ``generators``: each generator's score, rank and score relative to its best this turn, the fused score, how
  many generators found the item;
- ``item``: popularity among human recommenders' suggestions, acceptance, mentions, ratings, year, facts;
- ``context``: the turn number, how much the seeker has named, liked, disliked, asked for;
- ``match``: genre and people overlap with the named movies and with the wanted attributes, year distance,
  vector similarity to the named, disliked and last-said;
- ``dialogue``: whether the item was named earlier in this conversation, by whom, how recently, with what stance.
"""

from __future__ import annotations

import numpy as np

from crs_agent.tools.candidates import GENERATORS, Pool, Turn

__all__ = ["FEATURE_GROUPS", "FEATURE_NAMES", "features"]

_GENERATOR_FEATURES = [f"{g.name}_{kind}" for g in GENERATORS for kind in ("score", "rank", "rel")]
FEATURE_GROUPS: dict[str, list[str]] = {
    "generators": [*_GENERATOR_FEATURES, "fused", "n_found"],
    "item": [
        "log_suggested",
        "log_accepted",
        "accept_rate",
        "log_mentioned",
        "log_ratings",
        "popularity",
        "year",
        "n_genres",
        "n_people",
        "has_facts",
    ],  # fmt: skip
    "context": [
        "turn",
        "n_named",
        "n_liked",
        "n_disliked",
        "n_suggested",
        "n_wanted_genres",
        "n_wanted_people",
        "year_min",
        "year_max",
    ],  # fmt: skip
    "match": ["genre_named", "genre_wanted", "people_named", "year_gap", "content_sim", "disliked_sim", "last_sim"],
    "dialogue": ["suggested_ago", "mentioned_ago", "seeker_liked"],
}
FEATURE_NAMES: list[str] = [name for group in FEATURE_GROUPS.values() for name in group]
_COLUMN = {name: n for n, name in enumerate(FEATURE_NAMES)}


def _mean_vector(turn: Turn, ids: list[str]) -> np.ndarray | None:
    rows = turn.rows(ids)
    if rows.size == 0:
        return None
    mean = turn.resources.knowledge.vectors[rows].mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else None


def _ago(ids: list[str], rows: np.ndarray, turn: Turn) -> np.ndarray:
    """How many items back ``ids`` (in order) named each row: 1 = the latest; NaN = never."""
    out = np.full(rows.size, np.nan, dtype=np.float32)
    where = {r: n for n, r in enumerate(turn.rows(ids).tolist())}
    count = len(where)
    for k, row in enumerate(rows.tolist()):
        if row in where:
            out[k] = count - where[row]
    return out


def _generators(out: np.ndarray, pool: Pool) -> None:
    found = np.zeros(pool.rows.size, dtype=np.float32)
    for gen in GENERATORS:
        values, rank = pool.scores.get(gen.name), pool.ranks.get(gen.name)
        if values is None or rank is None:
            continue
        out[:, _COLUMN[f"{gen.name}_score"]] = values[pool.rows]
        out[:, _COLUMN[f"{gen.name}_rank"]] = rank
        best = pool.best.get(gen.name, np.nan)
        if np.isfinite(best) and best > 0:
            out[:, _COLUMN[f"{gen.name}_rel"]] = values[pool.rows] / best
        found += np.isfinite(rank)
    out[:, _COLUMN["fused"]] = pool.fused
    out[:, _COLUMN["n_found"]] = found


def _item(out: np.ndarray, turn: Turn, rows: np.ndarray) -> None:
    res, a = turn.resources, turn.resources.arrays
    suggested, accepted = res.collab_counts("suggested")[rows], res.collab_counts("accepted")[rows]
    has_counts = res.collab.has("suggested")
    values = {
        "log_suggested": np.log1p(suggested) if has_counts else np.nan,
        "log_accepted": np.log1p(accepted) if has_counts else np.nan,
        "accept_rate": (accepted + 1.0) / (suggested + 2.0) if has_counts else np.nan,
        "log_mentioned": np.log1p(res.collab_counts("mentioned")[rows]) if res.collab.has("mentioned") else np.nan,
        "log_ratings": np.log1p(a.rating_counts[rows]),
        "popularity": res.popularity()[rows],
        "year": a.years[rows],
        "n_genres": a.n_genres[rows],
        "n_people": a.n_people[rows],
        "has_facts": a.has_facts[rows],
    }
    for name, value in values.items():
        out[:, _COLUMN[name]] = value


def _first(*values: int | None) -> float:
    return float(next((v for v in values if v is not None), np.nan))


def _context(out: np.ndarray, turn: Turn) -> None:
    p = turn.profile
    values = {
        "turn": p.turn,
        "n_named": len(turn.named),
        "n_liked": len(p.liked_ids),
        "n_disliked": len(p.disliked_ids),
        "n_suggested": len(p.suggested_ids),
        "n_wanted_genres": len(p.genres),
        "n_wanted_people": len(p.people),
        "year_min": _first(p.year_min, p.era_min),  # a hard bound, else the loose era
        "year_max": _first(p.year_max, p.era_max),
    }
    for name, value in values.items():
        out[:, _COLUMN[name]] = value


def _match(out: np.ndarray, turn: Turn, rows: np.ndarray) -> None:
    a, p = turn.resources.arrays, turn.profile
    vectors = turn.resources.knowledge.vectors[rows]
    named = turn.rows(turn.positive)
    if named.size:
        genre_profile = np.asarray(a.genres[named].sum(axis=0)).ravel() / named.size
        out[:, _COLUMN["genre_named"]] = np.asarray(a.genres[rows] @ genre_profile).ravel() / np.maximum(
            a.n_genres[rows], 1.0
        )
        shared = np.asarray((a.people[named] > 0).astype(np.float32).sum(axis=0)).ravel()
        out[:, _COLUMN["people_named"]] = np.asarray((a.people[rows] > 0).astype(np.float32) @ shared).ravel()
        years = a.years[named]
        if np.isfinite(years).any():
            out[:, _COLUMN["year_gap"]] = np.abs(a.years[rows] - np.nanmedian(years))
    if p.genres:
        wanted = sum(a.genre_column(g)[rows].astype(np.float32) for g in p.genres)
        out[:, _COLUMN["genre_wanted"]] = wanted / len(p.genres)
    for name, query in (
        ("content_sim", _mean_vector(turn, turn.positive)),
        ("disliked_sim", _mean_vector(turn, p.disliked_ids)),
        ("last_sim", turn.resources.messages(turn.said[-1][:500]) if turn.said else None),
    ):
        if query is not None:
            out[:, _COLUMN[name]] = vectors @ np.asarray(query, dtype=np.float32)


def _dialogue(out: np.ndarray, turn: Turn, rows: np.ndarray) -> None:
    p = turn.profile
    out[:, _COLUMN["suggested_ago"]] = _ago(p.suggested_ids, rows, turn)
    out[:, _COLUMN["mentioned_ago"]] = _ago(p.mentioned_ids, rows, turn)
    liked = np.zeros(turn.resources.arrays.size, dtype=np.float32)
    liked[turn.rows(p.liked_ids)] = 1.0
    out[:, _COLUMN["seeker_liked"]] = liked[rows]


def features(turn: Turn, pool: Pool) -> np.ndarray:
    """``len(pool.rows) x len(FEATURE_NAMES)`` float32; columns of generators that did not run stay NaN."""
    rows = pool.rows
    out = np.full((rows.size, len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    if rows.size == 0:
        return out
    _generators(out, pool)
    _item(out, turn, rows)
    _context(out, turn)
    _match(out, turn, rows)
    _dialogue(out, turn, rows)
    return out
