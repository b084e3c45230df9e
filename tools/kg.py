"""``kg_lookup``: resolve a name to a KG node, then give its facts, related items or typed paths."""

from __future__ import annotations

from langchain_core.tools import ToolException

from crs_agent.knowledge import Knowledge, PathStep, item_node
from crs_agent.tools.models import Candidate, Fact, KgResult

__all__ = ["KgLookup"]


class KgLookup:
    def __init__(self, knowledge: Knowledge) -> None:
        self.k = knowledge

    def resolve(self, text: str) -> tuple[str, float]:
        """An item id, an exact title, or a fuzzy entity name -> (node, match score)."""
        text = text.strip()
        if text in self.k.catalog:
            return item_node(text), 1.0
        if text.startswith("@") and text[1:] in self.k.catalog:
            return item_node(text[1:]), 1.0
        titled = self.k.catalog.by_title(text)
        if titled:
            return item_node(titled[0].id), 1.0
        matches = self.k.kg.resolve(text, limit=1)
        if not matches:
            raise ToolException(f"no item, person or genre matches {text!r}: check the spelling or use an item id.")
        return matches[0]

    def lookup(self, entity: str, relation: str | None, target: str | None, hops: int) -> KgResult:
        node, score = self.resolve(entity)
        kind = self.k.kg.kind(node) or "unknown"
        result = KgResult(entity=node, name=self.k.kg.name(node), kind=kind, match_score=score)
        if target:
            other, _ = self.resolve(target)
            result.paths = [self._render_path(p) for p in self.k.kg.paths(node, other, max_len=hops)]
        elif kind == "item":
            result.facts = [
                Fact(relation=r, values=v) for r, v in self.k.kg.facts(node).items() if not r.startswith("~")
            ]
            if relation:
                result.related = self._related_items(node, relation)
        else:
            result.related = self._items_with(node, relation)
        return result

    def _related_items(self, node: str, relation: str) -> list[Candidate]:
        shared = self.k.kg.items_sharing(node, relation)
        ranked = sorted(shared.items(), key=lambda kv: (-len(kv[1]), -self.k.catalog[kv[0][5:]].popularity))
        return [
            Candidate.of(self.k.catalog[other[5:]], len(links), f"kg_lookup:{relation}", shared=len(links))
            for other, links in ranked[:20]
        ]

    def _items_with(self, node: str, relation: str | None) -> list[Candidate]:
        items = [self.k.catalog[n[5:]] for n in self.k.kg.items_with(node, relation)]
        items.sort(key=lambda item: -item.popularity)
        return [Candidate.of(item, item.popularity, f"kg_lookup:{relation or 'linked'}") for item in items[:20]]

    def _render_path(self, path: list[PathStep]) -> list[str]:
        out = [self.k.kg.name(path[0].source)]
        for step in path:
            out += [step.relation if step.forward else f"~{step.relation}", self.k.kg.name(step.target)]
        return out

    def render(self, result: KgResult) -> str:
        lines = [f"{result.kind} {result.name} (match {result.match_score:.2f})"]
        lines += [f"{f.relation}: {', '.join(f.values[:6])}" for f in result.facts]
        lines += [" -> ".join(p) for p in result.paths[:5]]
        if result.related:
            lines.append("items: " + "; ".join(f"{c.item_id}: {c.title}" for c in result.related[:10]))
        return "\n".join(lines)
