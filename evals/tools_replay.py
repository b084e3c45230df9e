"""Turn-level replay of ReDial recommendation turns through the tools alone (no LLM).

    python -m crs_agent.evals.tools_replay [--turns test_dev_turns.jsonl] [--limit N] [--fit]

For each recommendation turn: link the dialogue context with the deterministic linker, build a profile
(movies the seeker mentioned are liked and excluded from recommendation; genres, people and years from
the seeker's words; the seeker's last messages are the wishes), retrieve + expand + rank, and score the
movie the human recommender actually suggested next (Recall@1/10/50, one sample per suggested movie, as
iEvaLM). Baselines run in the same loop: popularity (training-split mentions) and embedding-only.

``--fit`` fits the ranker's logistic weights and calibration on ``valid_turns.jsonl`` (never the test
turns) and writes ``tools/rank_weights.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from crs_agent.evals.cases import eval_data
from crs_agent.knowledge import Knowledge, Settings, ensure_index
from crs_agent.tools import FEATURES, Profile, RankWeights, Toolkit
from crs_agent.tools.linker import Linker

PUBLISHED = [  # iEvaLM (Wang et al., EMNLP 2023), Table 2, ReDial, turn-level
    ("KBRD", 0.028, 0.169, None),
    ("UniCRS", 0.050, 0.215, None),
    ("ChatGPT zero-shot", 0.037, 0.174, None),
]
CUTOFFS = (1, 10, 50)


@dataclass
class Turn:
    context: list[str]
    entities: list[str]
    targets: list[str]  # catalog ids


@dataclass
class SystemResult:
    hits: dict[int, list[int]] = field(default_factory=lambda: {k: [] for k in CUTOFFS})
    latencies: list[float] = field(default_factory=list)

    def add(self, ranked: list[str], targets: list[str], seconds: float) -> None:
        for target in targets:
            for k in CUTOFFS:
                self.hits[k].append(int(target in ranked[:k]))
        self.latencies.append(seconds)

    def recall(self, k: int) -> float:
        return statistics.fmean(self.hits[k]) if self.hits[k] else 0.0


def load_turns(path: Path, knowledge: Knowledge, limit: int | None) -> Iterator[Turn]:
    count = 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            targets = [item.id for name in row["rec"] for item in knowledge.catalog.by_title(name)[:1]]
            if not targets:
                continue
            yield Turn(row["context"], row.get("entity", []), targets)
            count += 1
            if limit and count >= limit:
                return


def profile_of(turn: Turn, linker: Linker, knowledge: Knowledge) -> Profile:
    """The seeker speaks last and every second message before; movies the seeker mentions are liked.

    iEvaLM's entity annotations of the context catch titles the linker missed (never the target turn).
    """
    seeker = [text for text in turn.context[::-1][::2] if text][::-1]
    said = linker.link(" . ".join(seeker))
    seeker_text = " ".join(seeker)
    annotated = [
        item.id for name in turn.entities if name in seeker_text for item in knowledge.catalog.by_title(name)[:1]
    ]
    liked = list(dict.fromkeys(i for i in [*said.mentioned_ids, *annotated] if i not in said.disliked_ids))
    return Profile(
        liked_ids=liked[-20:],
        disliked_ids=said.disliked_ids[-20:],
        genres=said.genres[:5],
        exclude_genres=said.exclude_genres[:10],
        people=said.people[:5],
        exclude_people=said.exclude_people[:10],
        year_min=said.year_min,
        year_max=said.year_max,
        wishes=[" ".join(seeker[-2:])[-300:]] if seeker else [],
    )


def candidate_pool(toolkit: Toolkit, profile: Profile) -> list[str]:
    flt = profile.hard_filter()
    pool: dict[str, None] = {}
    if profile.wishes:
        pool.update((c.item_id, None) for c in toolkit.retriever.semantic(profile.wishes[-1], flt, 100))
    if profile.liked_ids:
        pool.update((c.item_id, None) for c in toolkit.retriever.expand(profile.liked_ids, flt, 150))
    popular = sorted(toolkit.k.catalog, key=lambda item: -item.popularity)
    pool.update((item.id, None) for item in popular[:300] if flt.accepts(item))
    return list(pool)


def run_agent_tools(toolkit: Toolkit, profile: Profile) -> list[str]:
    pool = candidate_pool(toolkit, profile)
    ranked = toolkit.scorer.score(pool, profile)
    return [item_id for item_id, *_ in ranked[:50]]


def run(turns: list[Turn], knowledge: Knowledge, toolkit: Toolkit, linker: Linker) -> dict[str, SystemResult]:
    results = {name: SystemResult() for name in ("tools (retrieve+expand+rank)", "embedding only", "popularity")}
    popular = [item.id for item in sorted(knowledge.catalog, key=lambda item: -item.mentions)][:50]
    for turn in tqdm(turns, desc="replay", unit="turn"):
        profile = profile_of(turn, linker, knowledge)
        start = time.perf_counter()
        ranked = run_agent_tools(toolkit, profile)
        results["tools (retrieve+expand+rank)"].add(ranked, turn.targets, time.perf_counter() - start)
        start = time.perf_counter()
        text = " ".join(turn.context[-3:])[-500:] or "movie"
        embedded = [i for i, _ in knowledge.items.search(text, k=50)]
        results["embedding only"].add(embedded, turn.targets, time.perf_counter() - start)
        results["popularity"].add(popular, turn.targets, 0.0)
    return results


def fit_signed_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression whose weights keep the sign each feature means.

    Every feature is evidence for a candidate except ``disliked``, which is evidence against. Unconstrained,
    the fit on replayed dialogues learns a negative weight for semantic similarity (every pooled candidate
    is already similar, and human recommenders favour popular films); that would make the agent ignore
    what a user asks for, so the signs are fixed and only the magnitudes are learnt.
    """
    from scipy.optimize import minimize

    signs = np.array([-1.0 if name == "disliked" else 1.0 for name in FEATURES])

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1] * signs, theta[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.dot(w, w))
        grad_w = x.T @ (p - y) + l2 * w
        return value, np.append(grad_w * signs, np.sum(p - y))

    bounds = [(0.0, None)] * len(FEATURES) + [(None, None)]
    theta = minimize(loss, np.zeros(len(FEATURES) + 1), jac=True, method="L-BFGS-B", bounds=bounds).x
    return theta[:-1] * signs, float(theta[-1])


def fit(turns: list[Turn], knowledge: Knowledge, toolkit: Toolkit, linker: Linker) -> RankWeights:
    """Logistic regression of "was the suggested movie" on the features of every pooled candidate."""
    rows, labels = [], []
    for turn in tqdm(turns, desc="features", unit="turn"):
        profile = profile_of(turn, linker, knowledge)
        pool = candidate_pool(toolkit, profile)
        for item_id, feats in zip(pool, toolkit.scorer.features(pool, profile), strict=True):
            rows.append([feats[name] for name in FEATURES])
            labels.append(int(item_id in turn.targets))
    x, y = np.asarray(rows), np.asarray(labels)
    coef, bias = fit_signed_logistic(x, y)
    weights = RankWeights(
        weights={name: round(float(w), 5) for name, w in zip(FEATURES, coef, strict=True)},
        bias=round(float(bias), 5),
        fitted_on=f"valid_turns.jsonl: {len(turns)} turns, {int(y.sum())} positives in {len(y)} pooled candidates",
    )
    positives = sorted(
        weights.raw(dict(zip(FEATURES, r, strict=True))) for r, label in zip(rows, labels, strict=True) if label
    )
    weights.positive_quantiles = [round(float(q), 5) for q in np.quantile(positives, np.linspace(0, 1, 101))]
    return weights


def print_table(results: dict[str, SystemResult], n_samples: int, path: str) -> None:
    print(f"\nTurn-level Recall on {path} ({n_samples} suggested movies), measured here vs published")
    print(f"{'system':<32} {'R@1':>6} {'R@10':>6} {'R@50':>6}  {'p50 ms':>7} {'p95 ms':>7}  source")
    for name, res in results.items():
        ms = sorted(t * 1000 for t in res.latencies)
        p50, p95 = statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]
        recalls = " ".join(f"{res.recall(k):6.3f}" for k in CUTOFFS)
        print(f"{name:<32} {recalls}  {p50:7.1f} {p95:7.1f}  measured here")
    for name, r1, r10, r50 in PUBLISHED:
        print(f"{name:<32} {r1:6.3f} {r10:6.3f} {'-' if r50 is None else r50:>6}  {'':>7} {'':>7}  published (iEvaLM)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", default="test_dev_turns.jsonl", help="A file in evals/data or a path.")
    parser.add_argument("--limit", type=int, help="Only the first N turns.")
    parser.add_argument("--fit", action="store_true", help="Fit rank weights on valid_turns.jsonl and save them.")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    knowledge = ensure_index(settings)
    linker = Linker(knowledge.catalog, knowledge.kg)
    if args.fit:
        turns = list(load_turns(eval_data("valid_turns.jsonl"), knowledge, args.limit))
        weights = fit(turns, knowledge, Toolkit(knowledge, RankWeights()), linker)
        out = Path(str(resources.files("crs_agent.tools") / "rank_weights.json"))
        weights.save(out)
        print(f"wrote {out}: {weights.fitted_on}\n{json.dumps(weights.weights, indent=1)}")
        return
    path = Path(args.turns) if Path(args.turns).is_file() else eval_data(args.turns)
    if path.name.startswith("valid"):
        print("note: reporting on the validation turns the weights were fitted on")
    turns = list(load_turns(path, knowledge, args.limit))
    results = run(turns, knowledge, Toolkit(knowledge), linker)
    print_table(results, len(results["popularity"].hits[1]), path.name)


if __name__ == "__main__":
    main()
