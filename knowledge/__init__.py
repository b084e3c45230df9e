"""The knowledge layer: catalog, knowledge graph, collaborative signals, embeddings and Chroma stores.

Knows nothing of LLMs or agents. ``load_knowledge`` / ``ensure_index`` give the tools a
:class:`Knowledge` bundle built by ``crs-agent index``.
"""

from crs_agent.knowledge.collab import CollabConfig, CollaborativeSignals
from crs_agent.knowledge.config import Settings
from crs_agent.knowledge.embeddings import HashingEmbedder, SentenceTransformerEmbedder, make_embedder
from crs_agent.knowledge.errors import (
    CatalogError,
    CrsAgentError,
    IndexBusyError,
    IndexIncompleteError,
    IndexMissingError,
    ModelNotFoundError,
)
from crs_agent.knowledge.filters import ItemFilter
from crs_agent.knowledge.graph import KnowledgeGraph, PathStep, entity_node, item_node
from crs_agent.knowledge.index import BuildReport, Knowledge, build_index, ensure_index, index_status, load_knowledge
from crs_agent.knowledge.interactions import Conversation, Interactions
from crs_agent.knowledge.items import Catalog, Item, normalize_title, split_title_year
from crs_agent.knowledge.stores import ItemStore, MemoryRecord, MemoryStore

__all__ = [
    "BuildReport",
    "Catalog",
    "CatalogError",
    "CollabConfig",
    "CollaborativeSignals",
    "Conversation",
    "CrsAgentError",
    "HashingEmbedder",
    "IndexBusyError",
    "IndexIncompleteError",
    "IndexMissingError",
    "Interactions",
    "Item",
    "ItemFilter",
    "ItemStore",
    "Knowledge",
    "KnowledgeGraph",
    "MemoryRecord",
    "MemoryStore",
    "ModelNotFoundError",
    "PathStep",
    "SentenceTransformerEmbedder",
    "Settings",
    "build_index",
    "ensure_index",
    "entity_node",
    "index_status",
    "item_node",
    "load_knowledge",
    "make_embedder",
    "normalize_title",
    "split_title_year",
]
