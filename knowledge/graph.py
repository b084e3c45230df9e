"""The knowledge graph: a networkx ``MultiDiGraph`` of items, people, genres and decades.

Edges point from an item to what describes it (``has_genre``, ``directed_by``, ``written_by``,
``stars``, ``released_in``, or a catalog's own item-to-item relation); both directions are navigable
through an undirected adjacency view kept beside the graph, which is what makes the common queries
(facts, items sharing a relation, short typed paths) take microseconds.
"""

from __future__ import annotations

import pickle
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from rapidfuzz import fuzz, process

from crs_agent.knowledge.items import Catalog, decade_of

__all__ = ["ROLE_RELATIONS", "KnowledgeGraph", "PathStep", "entity_node", "item_node"]

ROLE_RELATIONS = {
    "director": "directed_by",
    "writer": "written_by",
    "author": "written_by",
    "star": "stars",
    "actor": "stars",
    "genre": "has_genre",
}


def item_node(item_id: str) -> str:
    return f"item:{item_id}"


def entity_node(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def role_relation(role: str) -> str:
    return ROLE_RELATIONS.get(role, f"has_{role}")


@dataclass(frozen=True)
class PathStep:
    """One hop: ``source -[relation]-> target`` when ``forward``, else the edge is walked backwards."""

    source: str
    relation: str
    target: str
    forward: bool


class KnowledgeGraph:
    def __init__(self, graph: nx.MultiDiGraph) -> None:
        self.graph = graph
        self._adj: dict[str, dict[str, tuple[tuple[str, bool], ...]]] = {}
        for u, v, relation in graph.edges(data="relation"):
            self._adj.setdefault(u, {}).setdefault(v, ())
            self._adj[u][v] += ((relation, True),)
            self._adj.setdefault(v, {}).setdefault(u, ())
            self._adj[v][u] += ((relation, False),)
        self._names = [n for n, kind in graph.nodes(data="kind") if kind != "item"]
        self._name_cache: dict[str | None, dict[str, str]] = {}

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, catalog: Catalog, triples: Iterable[tuple[str, str, str, str]] = ()) -> KnowledgeGraph:
        g = nx.MultiDiGraph()
        seen: set[tuple[str, str, str]] = set()

        def link(u: str, relation: str, v: str) -> None:
            if (u, relation, v) not in seen:
                seen.add((u, relation, v))
                g.add_edge(u, v, key=relation, relation=relation)

        def entity(kind: str, name: str) -> str:
            node = entity_node(kind, name)
            if node not in g:
                g.add_node(node, kind=kind, name=name)
            return node

        for item in catalog:
            node = item_node(item.id)
            g.add_node(node, kind="item", name=item.label)
        for item in catalog:
            node = item_node(item.id)
            for genre in item.genres:
                link(node, "has_genre", entity("genre", genre))
            for role, names in item.people.items():
                for name in names:
                    link(node, role_relation(role), entity("person", name))
            if item.decade:
                link(node, "released_in", entity("decade", item.decade))
            for relation, other in item.relations:
                if other in catalog:
                    link(node, relation, item_node(other))
        for item_id, relation, kind, name in triples:
            if item_id in catalog:
                link(item_node(item_id), role_relation(relation), entity(kind, name))
        return cls(g)

    def save(self, path: Path) -> None:
        with path.open("wb") as out:
            pickle.dump(self.graph, out, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load(cls, path: Path) -> KnowledgeGraph:
        with path.open("rb") as handle:
            return cls(pickle.load(handle))

    # -- queries ----------------------------------------------------------------------------------
    def __contains__(self, node: object) -> bool:
        return node in self.graph

    def kind(self, node: str) -> str | None:
        return self.graph.nodes[node].get("kind") if node in self.graph else None

    def name(self, node: str) -> str:
        return self.graph.nodes[node].get("name", node)

    def neighbours(self, node: str) -> dict[str, tuple[tuple[str, bool], ...]]:
        """Adjacent nodes in both directions, each with its ``(relation, forward)`` pairs."""
        return self._adj.get(node, {})

    def facts(self, node: str) -> dict[str, list[str]]:
        """Relation -> names of what ``node`` links to (an item's genres, people, decade)."""
        out: dict[str, list[str]] = {}
        for other, relations in self._adj.get(node, {}).items():
            for relation, forward in relations:
                key = relation if forward else f"~{relation}"
                out.setdefault(key, []).append(self.graph.nodes[other].get("name", other))
        return out

    def items_with(self, node: str, relation: str | None = None) -> list[str]:
        """Item nodes linked to entity ``node`` (by ``relation`` when given)."""
        return [
            other
            for other, relations in self._adj.get(node, {}).items()
            if other.startswith("item:") and any(relation in (None, r) for r, _ in relations)
        ]

    def items_sharing(
        self, node: str, relation: str | None = None, skip: Collection[str] = ()
    ) -> dict[str, list[tuple[str, str]]]:
        """Other items that share an entity with ``node``: item -> [(relation, shared entity)].

        ``skip`` names relations not to share through: a genre or a decade links to a share of the whole
        catalog, so walking it costs time in proportion to the catalog's size.
        """
        shared: dict[str, list[tuple[str, str]]] = {}
        for entity, relations in self._adj.get(node, {}).items():
            for rel, forward in relations:
                if not forward or relation not in (None, rel) or rel in skip or entity.startswith("item:"):
                    continue
                for other in self.items_with(entity, rel):
                    if other != node:
                        shared.setdefault(other, []).append((rel, entity))
        return shared

    def paths(self, source: str, target: str, max_len: int = 3, limit: int = 10) -> list[list[PathStep]]:
        """Shortest typed paths (at most ``max_len`` hops) between two nodes, meeting in the middle."""
        if source not in self._adj or target not in self._adj or source == target:
            return []
        adj = self._adj
        near_t = adj[target]
        if target in adj[source]:
            return [[self._step(source, target)]][:limit]
        found: list[list[PathStep]] = []
        if max_len >= 2:
            small, big = (adj[source], near_t) if len(adj[source]) <= len(near_t) else (near_t, adj[source])
            for mid in small:
                if mid in big and mid not in (source, target):
                    found.append([self._step(source, mid), self._step(mid, target)])
            if found:
                return found[:limit]
        if max_len >= 3:
            for a in adj[source]:
                nbrs = adj[a]
                for b in near_t if len(near_t) <= len(nbrs) else nbrs:
                    if b in nbrs and b in near_t and len({source, a, b, target}) == 4:
                        found.append([self._step(source, a), self._step(a, b), self._step(b, target)])
                        if len(found) >= limit:
                            return found
        return found

    def _step(self, u: str, v: str) -> PathStep:
        relation, forward = self._adj[u][v][0]
        return PathStep(u, relation, v, forward)

    def resolve(self, text: str, kind: str | None = None, limit: int = 3) -> list[tuple[str, float]]:
        """Entity nodes whose name fuzzily matches ``text`` ("nolan" -> person:Christopher Nolan).

        Equal string scores are broken by degree, so the best-connected namesake wins.
        """
        query = text.strip().lower()
        if not query:
            return []
        names = self._entity_names(kind)
        matches = process.extract(query, names, scorer=fuzz.WRatio, processor=None, limit=50, score_cutoff=75)
        ranked = sorted(matches, key=lambda m: (-round(m[1]), -len(self._adj[m[2]]), len(m[0])))
        return [(node, round(score / 100, 3)) for _, score, node in ranked[:limit]]

    def _entity_names(self, kind: str | None) -> dict[str, str]:
        if kind not in self._name_cache:
            self._name_cache[kind] = {
                n: self.graph.nodes[n]["name"].lower()
                for n in self._names
                if kind in (None, self.graph.nodes[n]["kind"])
            }
        return self._name_cache[kind]

    def stats(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for _, kind in self.graph.nodes(data="kind"):
            kinds[kind] = kinds.get(kind, 0) + 1
        return {"nodes": self.graph.number_of_nodes(), "edges": self.graph.number_of_edges(), **kinds}


def decade_node(year: int | None) -> str | None:
    decade = decade_of(year)
    return entity_node("decade", decade) if decade else None
