"""Benchmark of the whole agent per turn: latency p50/p95, LLM tokens per turn, peak memory (not a test).

    python -m crs_agent.evals.bench_agent [--backends rules,llama_cpp] [--conversations 50] [--turns 3]

Conversations are scripted from the openings of real ReDial test dialogues: the seeker's first messages,
with ``@id`` mentions replaced by titles, sent one per turn.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import time
from pathlib import Path

from langchain_core.callbacks import get_usage_metadata_callback
from tqdm.auto import tqdm

from crs_agent.agent import Recommender
from crs_agent.agent.llm import make_chat_model
from crs_agent.evals.cases import eval_data
from crs_agent.knowledge import Settings, ensure_index

_MENTION = re.compile(r"@(\d+)")


def scripted_conversations(n: int, turns: int) -> list[list[str]]:
    """The first ``turns`` seeker messages of the first ``n`` ReDial test dialogues, titles restored."""
    path = eval_data("redial_test_dev.jsonl")
    out = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            dialogue = json.loads(line)
            titles = dialogue.get("movieMentions") or {}
            seeker = dialogue["initiatorWorkerId"]
            said = [
                _MENTION.sub(lambda m, titles=titles: " ".join((titles.get(m[1]) or "a movie").split()), msg["text"])
                for msg in dialogue["messages"]
                if msg["senderWorkerId"] == seeker and msg["text"].strip()
            ]
            if len(said) >= turns:
                out.append(said[:turns])
            if len(out) >= n:
                break
    return out


def run_backend(backend: str, settings: Settings, conversations: list[list[str]]) -> dict[str, float]:
    knowledge = ensure_index(settings)
    llm = make_chat_model(settings.model_copy(update={"llm_backend": backend}))
    rec = Recommender(knowledge, llm)
    latencies, tokens = [], []
    for n, conversation in enumerate(tqdm(conversations, desc=backend, unit="conversation")):
        for message in conversation:
            with get_usage_metadata_callback() as usage:
                start = time.perf_counter()
                rec.chat(message, user_id=f"bench-{backend}-{n}", thread_id="t")
                latencies.append(time.perf_counter() - start)
            tokens.append(sum(u.get("total_tokens", 0) for u in usage.usage_metadata.values()))
    ms = sorted(t * 1000 for t in latencies)
    return {
        "turns": len(ms),
        "p50_ms": statistics.median(ms),
        "p95_ms": ms[int(0.95 * (len(ms) - 1))],
        "tokens_per_turn": statistics.fmean(tokens),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="rules,llama_cpp")
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    conversations = scripted_conversations(args.conversations, args.turns)
    rows = {backend: run_backend(backend, settings, conversations) for backend in args.backends.split(",")}
    targets = {"rules": "p50 <= 100 ms", "llama_cpp": "p50 <= 2.5 s, p95 <= 5 s, RSS <= 1.5 GB"}
    print(f"\nAgent per turn, {len(conversations)} ReDial openings x {args.turns} turns")
    print(f"{'backend':<12} {'turns':>5} {'p50 ms':>8} {'p95 ms':>8} {'LLM tok/turn':>12} {'peak RSS MB':>11}  target")
    for backend, r in rows.items():
        print(
            f"{backend:<12} {r['turns']:>5} {r['p50_ms']:>8.0f} {r['p95_ms']:>8.0f} {r['tokens_per_turn']:>12.0f} "
            f"{r['peak_rss_mb']:>11.0f}  {targets.get(backend, '')}"
        )


if __name__ == "__main__":
    main()
