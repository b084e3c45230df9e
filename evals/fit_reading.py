"""Refit the learned reading (``agent/data/reading.json``) from the bundled training data, and measure it.

    python -m crs_agent.evals.fit_reading            # refit, write the model, print the evaluation
    python -m crs_agent.evals.fit_reading --no-write # measure only

Training data: the ReDial training-split dialogues (``knowledge/data/redial_train_dialogues.jsonl.gz``)
without the 1,000 validation dialogues, and IARD's annotated dialogues without the validation and test ones
(ids >= 20001). The intent head learns from IARD (weight 1) and from ReDial's weak reply labels (see
:mod:`crs_agent.evals.reading_data`) where a model fitted on IARD alone gives the weak label some credit; the
two stance heads learn from ReDial's per-movie labels. Measured on ``evals/data/redial_test_dev.jsonl`` (never
trained on) against the rules, and on IARD intents (grouped by dialogue: cross-validated on the training
dialogues, and on IARD's 38 test dialogues). Seeded and single-threaded; embeddings are cached.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from crs_agent.agent.reading import (
    FittedWith,
    Head,
    ReadingModel,
    features,
    intent_input,
    read_learned,
    stance_input,
)
from crs_agent.evals.cases import eval_data
from crs_agent.evals.reading_data import LabelledTurn, iard_turns, labels_of, load_iard, load_redial, redial_turns
from crs_agent.evals.reading_eval import (
    CachedEmbedder,
    cost_per_message,
    intent_scores,
    intent_scores_from,
    markdown_table,
    redial_scores,
)
from crs_agent.knowledge import Catalog, KnowledgeGraph, make_embedder
from crs_agent.knowledge.config import DEFAULT_EMBEDDING_MODEL
from crs_agent.knowledge.embeddings import EmbeddingCache
from crs_agent.knowledge.loaders import bundled_data_dir, load_bundled_movies
from crs_agent.tools.linker import Linker

__all__ = ["FitConfig", "fit_intent", "fit_stances", "main"]

PROBES = ("Thanks, that one sounds perfect.", "No, I have seen all of those already.")
SHIPPED = Path(__file__).resolve().parents[1] / "agent" / "data" / "reading.json"
FIRST_TEST_ID = 20001


class FitConfig(BaseModel):
    """Everything the fit depends on besides the bundled data."""

    seed: int = 13
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    c_intent: float = Field(default=3.0, description="Inverse L2 strength of the intent head.")
    c_stance: float = Field(default=1.0, description="Inverse L2 strength of the two stance heads.")
    weak_weight: float = Field(default=0.5, description="Sample weight of a ReDial weak reply label.")
    weak_min_prob: float = Field(default=0.1, description="Keep a weak label when IARD's model gives it this much.")
    balanced_intent: bool = Field(default=True, description="Intent classes weighed inversely to their frequency.")
    balanced_stance: bool = Field(default=False, description="Stance classes weighed inversely to their frequency.")
    folds: int = 5


class _Data:
    """Turns, their features and the embedding of every text they need."""

    def __init__(self, turns: list[LabelledTurn], vectors: dict[str, np.ndarray]) -> None:
        self.turns = turns
        self.feats = [features(t.text, t.base, t.last, t.heard) for t in turns]
        self.vectors = vectors

    def intent_rows(self, keep: list[int]) -> np.ndarray:
        return np.vstack([intent_input(self.vectors[self.feats[n].message], self.feats[n].intent_flags) for n in keep])

    def stance_rows(self) -> tuple[np.ndarray, list[str], list[str]]:
        rows, liked, seen = [], [], []
        for turn, feat in zip(self.turns, self.feats, strict=True):
            for item_id, window in feat.windows.items():
                if item_id in turn.stances:
                    message, flags = self.vectors[feat.message], feat.stance_flags[item_id]
                    rows.append(stance_input(self.vectors[window], message, flags))
                    liked.append(turn.stances[item_id][0])
                    seen.append(turn.stances[item_id][1])
        return np.vstack(rows), liked, seen


def _fit(x: np.ndarray, y: list[str], weight: np.ndarray | None, c: float, balanced: bool, seed: int) -> Head:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced" if balanced else None, random_state=seed)
    model.fit(x, y, sample_weight=weight)
    return Head(
        classes=[str(label) for label in model.classes_],
        coef=[[float(f"{v:.5g}") for v in row] for row in model.coef_],
        intercept=[float(f"{v:.5g}") for v in model.intercept_],
    )


def fit_intent(iard: _Data, iard_rows: list[int], weak: _Data, config: FitConfig) -> tuple[Head, int]:
    """The intent head: IARD's turns ``iard_rows``, plus the weak ReDial labels that an IARD-only head credits."""
    x, y = iard.intent_rows(iard_rows), [iard.turns[n].intent or "chit-chat" for n in iard_rows]
    teacher = _fit(x, y, None, config.c_intent, config.balanced_intent, config.seed)
    candidates = [n for n, t in enumerate(weak.turns) if t.intent]
    kept: list[int] = []
    if candidates and config.weak_weight > 0:
        proba = teacher.proba(weak.intent_rows(candidates))
        column = {c: k for k, c in enumerate(teacher.classes)}
        kept = [
            n for n, p in zip(candidates, proba, strict=True) if p[column[weak.turns[n].intent]] >= config.weak_min_prob
        ]
    if not kept:
        return teacher, 0
    xs = np.vstack([x, weak.intent_rows(kept)])
    ys = y + [weak.turns[n].intent or "" for n in kept]
    weights = np.concatenate([np.ones(len(y)), np.full(len(kept), config.weak_weight)])
    return _fit(xs, ys, weights, config.c_intent, config.balanced_intent, config.seed), len(kept)


def fit_stances(data: _Data, config: FitConfig) -> tuple[Head, Head, int]:
    x, liked, seen = data.stance_rows()
    fit = lambda y: _fit(x, y, None, config.c_stance, config.balanced_stance, config.seed)  # noqa: E731
    return fit(liked), fit(seen), len(liked)


def _ids(path: Path) -> set[str]:
    return {str(d["conversationId"]) for d in load_redial(path)}


def _load(linker: Linker, catalog: Catalog) -> dict[str, Any]:
    """The four sets of turns; validation dialogues and test dialogues never reach a training set."""
    valid = _ids(eval_data("redial_valid_dialogues.jsonl"))
    test = load_redial(eval_data("redial_test_dev.jsonl"))
    train = [
        d
        for d in load_redial(bundled_data_dir() / "redial_train_dialogues.jsonl.gz")
        if str(d["conversationId"]) not in valid
    ]
    iard = load_iard()
    pool = [d for d in iard if int(d["conversation_id"]) < FIRST_TEST_ID and str(d["conversation_id"]) not in valid]
    held = [d for d in iard if int(d["conversation_id"]) >= FIRST_TEST_ID]
    trained = {str(d["conversationId"]) for d in train} | {str(d["conversation_id"]) for d in pool}
    if trained & ({str(d["conversationId"]) for d in test} | valid) or any(int(i) >= FIRST_TEST_ID for i in trained):
        raise RuntimeError("a validation or test dialogue reached the training data")
    annotated = {str(d["conversation_id"]) for d in pool}
    return {
        "train": [t for d in train for t in redial_turns(d, catalog, linker)],
        "weak": [
            t for d in train if str(d["conversationId"]) not in annotated for t in redial_turns(d, catalog, linker)
        ],
        "iard": [t for d in pool for t in iard_turns(d, linker)],
        "iard_test": [t for d in held for t in iard_turns(d, linker)],
        "test": [(list(redial_turns(d, catalog, linker)), labels_of(d)) for d in test],
    }


def _embed_all(sets: dict[str, Any], embedder: Any, cache_dir: Path) -> dict[str, np.ndarray]:
    turns = [*sets["train"], *sets["iard"], *sets["iard_test"], *(t for ts, _ in sets["test"] for t in ts)]
    texts = sorted({x for t in turns for x in features(t.text, t.base, t.last, t.heard).texts()})
    print(f"embedding {len(texts):,} texts (cached in {cache_dir}) ...", flush=True)
    return dict(zip(texts, EmbeddingCache(cache_dir, embedder).embed(texts), strict=True))


def _folds(turns: list[LabelledTurn], k: int, seed: int) -> list[list[int]]:
    dialogues = sorted({t.dialogue for t in turns})
    np.random.default_rng(seed).shuffle(dialogues)
    fold_of = {d: n % k for n, d in enumerate(dialogues)}
    return [[n for n, t in enumerate(turns) if fold_of[t.dialogue] == f] for f in range(k)]


def _reader(model: ReadingModel, embedder: Any):
    return lambda t: read_learned(model, embedder, t.text, t.base, t.last, t.heard)


def _iard_cv(model: ReadingModel, iard: _Data, weak: _Data, embedder: Any, config: FitConfig) -> dict[str, float]:
    """Intent scores on IARD's training dialogues, each fold read by a head fitted without that fold's dialogues."""
    predicted: dict[int, str] = {}
    for fold in _folds(iard.turns, config.folds, config.seed):
        held = set(fold)
        head, _ = fit_intent(iard, [n for n in range(len(iard.turns)) if n not in held], weak, config)
        read = _reader(model.model_copy(update={"intent": head}), embedder)
        predicted.update({n: read(iard.turns[n]).intent for n in fold})
    return intent_scores_from(
        [t.intent or "chit-chat" for t in iard.turns], [predicted[n] for n in range(len(iard.turns))]
    )


def _fitted_with(embedder: Any) -> FittedWith:
    vectors = np.asarray(embedder(list(PROBES)), dtype=np.float32)
    return FittedWith(
        name=embedder.name(),
        config=embedder.get_config(),
        probes=list(PROBES),
        vectors=[[round(float(v), 6) for v in row] for row in vectors],
    )


_REDIAL_COLUMNS = (
    ("mentions", "movies"),
    ("sentiment_f1", "sentiment macro-F1 (4)"),
    ("liked_f1", "liked macro-F1 (3)"),
    ("seen_f1", "seen F1"),
    ("turn_downs", "turn-down replies"),
    ("turn_down_recall", "turn-down recall"),
    ("disliked_recall", "of disliked"),
    ("seen_recall", "of seen"),
    ("turn_down_as_accept", "turn-downs read as accept"),
    ("accepts", "accept replies"),
    ("false_turn_down", "false turn-down rate"),
    ("accept_recall", "read as accept"),
)
_INTENT_COLUMNS = (("turns", "turns"), ("accuracy", "accuracy"), ("macro_f1", "macro-F1 (7 intents)"))


def _report(model: ReadingModel, embedder: Any, sets: dict[str, Any], data: dict[str, _Data], config: FitConfig) -> str:
    rules = lambda t: t.base  # noqa: E731 - the linker's reading and today's intent rules
    learned = _reader(model, embedder)
    deaf = lambda t: read_learned(model, embedder, t.text, t.base, t.last)  # noqa: E731 - no recommender's words
    readers = (("rules", rules), ("model", learned), ("model, without the recommender's words", deaf))
    redial = [(name, redial_scores(sets["test"], reader)) for name, reader in readers]
    iard, held = data["iard"], data["iard_test"]
    intents = [
        (f"rules, IARD training dialogues ({len({t.dialogue for t in iard.turns})})", intent_scores(iard.turns, rules)),
        (f"model, same, {config.folds}-fold CV by dialogue", _iard_cv(model, iard, data["weak"], embedder, config)),
        (f"rules, IARD test dialogues ({len({t.dialogue for t in held.turns})})", intent_scores(held.turns, rules)),
        ("model, same (never trained on)", intent_scores(held.turns, learned)),
    ]
    return "\n\n".join(
        [
            f"ReDial test dialogues (evals/data/redial_test_dev.jsonl, {len(sets['test'])}; never trained on)",
            markdown_table(redial, _REDIAL_COLUMNS),
            "Seeker intents, IARD annotations mapped onto Intent",
            markdown_table(intents, _INTENT_COLUMNS),
        ]
    )


def _single_thread() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def main(argv: list[str] | None = None) -> None:
    import platformdirs
    import sklearn

    parser = argparse.ArgumentParser(prog="python -m crs_agent.evals.fit_reading", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, default=SHIPPED, help="where to write the model (default: the shipped file)"
    )
    parser.add_argument("--no-write", action="store_true", help="measure only; leave the model file alone")
    parser.add_argument("--cache-dir", type=Path, default=Path(platformdirs.user_cache_dir("crs-agent")) / "reading")
    parser.add_argument("--seed", type=int, default=FitConfig().seed)
    args = parser.parse_args(argv)
    config = FitConfig(seed=args.seed)
    _single_thread()
    started = time.perf_counter()
    movies = load_bundled_movies()
    catalog = Catalog(movies.items)
    linker = Linker(catalog, KnowledgeGraph.build(catalog, movies.triples))
    sets = _load(linker, catalog)
    embedder = make_embedder(config.embedding_model)
    vectors = _embed_all(sets, embedder, args.cache_dir)
    data = {k: _Data(sets[k], vectors) for k in ("train", "weak", "iard", "iard_test")}
    intent, kept = fit_intent(data["iard"], list(range(len(data["iard"].turns))), data["weak"], config)
    liked, seen, mentions = fit_stances(data["train"], config)
    about = {
        "command": "python -m crs_agent.evals.fit_reading",
        "config": config.model_dump(),
        "scikit_learn": sklearn.__version__,
        "redial_dialogues": len({t.dialogue for t in sets["train"]}),
        "iard_dialogues": len({t.dialogue for t in data["iard"].turns}),
        "iard_turns": len(data["iard"].turns),
        "weak_reply_labels": kept,
        "stance_mentions": mentions,
    }
    model = ReadingModel(fitted_with=_fitted_with(embedder), intent=intent, liked=liked, seen=seen, about=about)
    if not args.no_write:
        model.save(args.out)
        print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    print(f"fitted in {time.perf_counter() - started:.0f} s: {about}\n")
    print(_report(model, CachedEmbedder(embedder, vectors), sets, data, config))
    turns = [t for ts, _ in sets["test"] for t in ts]
    print("\n" + cost_per_message(model, embedder, turns[:200]))


if __name__ == "__main__":
    main()
