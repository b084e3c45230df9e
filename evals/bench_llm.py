"""What the embedded LLM adds over the rules backend, on the same cases: reading, iEvaLM, replay, latency.

    python -m crs_agent.evals.bench_llm [--models smollm2-135m,gemma3-270m] [--dialogues 60] [--cases 100]

1. Reading: on ReDial test dialogues (their per-movie labels; never fitted on), the agent's reading without
   an LLM (the linker with the learned reading) against the same with each LLM on top, reading only what
   the linker left open (the default) or every message (``llm_reads_every_message``); the rules alone for
   reference. Per-movie sentiment macro-F1, turn-down recall, turn-downs read as acceptances, ms/message.
2. The agent under ``ievalm`` and ``replay`` on the same ``--cases`` bundled test turns (seeded sample), with
   the rules backend and with each LLM: R@10 (all, new items), questions, latency, LLM tokens per turn.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from typing import Any

from crs_agent.agent.llm import make_chat_model
from crs_agent.agent.state import Deps
from crs_agent.agent.understand import read_message, read_with_llm
from crs_agent.evals.cases import eval_data
from crs_agent.evals.reading_data import LabelledTurn, load_redial, redial_turns
from crs_agent.evals.reading_eval import markdown_table, redial_scores
from crs_agent.evals.runner import EvalConfig, run_eval
from crs_agent.knowledge import Knowledge, Settings, ensure_index
from crs_agent.tools import Toolkit
from crs_agent.tools.linker import Linker

__all__ = ["main"]

_READING = [
    ("sentiment_f1", "sentiment F1"),
    ("turn_down_recall", "turn-down recall"),
    ("turn_down_as_accept", "turn-downs read as accept"),
    ("false_turn_down", "false turn-down"),
    ("llm_share", "messages the LLM read"),
    ("ms_per_message", "ms / message"),
]


def _reader(knowledge: Knowledge, linker: Linker, deps: Deps | None, calls: list[float]):
    def read(turn: LabelledTurn):
        started = time.perf_counter()
        update = read_message(turn.text, linker, turn.last, knowledge.embedder)
        if deps is not None:
            before = deps.llm
            update = read_with_llm(turn.text, deps, update)
            deps.llm = before  # a failed call switches one turn to the rules, not the whole benchmark
        calls.append(time.perf_counter() - started)
        return update

    return read


def reading_rows(knowledge: Knowledge, settings: Settings, models: list[str], dialogues: int, seed: int) -> str:
    linker = Linker(knowledge.catalog, knowledge.kg)
    raw = load_redial(eval_data("redial_test_dev.jsonl"))
    sample = random.Random(seed).sample(raw, min(dialogues, len(raw)))
    labelled = [(list(redial_turns(d, knowledge.catalog, linker)), d.get("initiatorQuestions") or {}) for d in sample]
    rows = [("rules", redial_scores(labelled, lambda turn: turn.base) | {"llm_share": 0.0, "ms_per_message": 0.0})]
    toolkit = Toolkit(knowledge)
    variants: list[tuple[str, Any, bool]] = [("no LLM (learned reading)", None, False)]
    counters: dict[int, Any] = {id(None): lambda: 0}
    for name in models:
        llm = make_chat_model(settings.model_copy(update={"llm_backend": "llama_cpp", "llm_model": name}))
        counters[id(llm)] = _count_llm_calls(llm)
        variants += [(f"+ {name}, gaps only", llm, False), (f"+ {name}, every message", llm, True)]
    for label, llm, every in variants:
        deps = Deps(toolkit, linker, "bench", llm, llm_reads_every_message=every) if llm is not None else None
        calls: list[float] = []
        before = counters[id(llm)]()
        scores = redial_scores(labelled, _reader(knowledge, linker, deps, calls))
        scores["llm_share"] = (counters[id(llm)]() - before) / max(1, len(calls))
        scores["ms_per_message"] = 1000 * statistics.fmean(calls) if calls else 0.0
        rows.append((label, scores))
    return markdown_table(rows, _READING)


def _count_llm_calls(llm: Any):
    """How many times ``llm`` was invoked from now on (wrap each model once; read the count before and after)."""
    count = [0]
    original = llm._generate

    def counting(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return original(*args, **kwargs)

    object.__setattr__(llm, "_generate", counting)
    return lambda: count[0]


def protocol_rows(settings: Settings, models: list[str], cases: int, seed: int, out: Path) -> str:
    lines = [
        "| protocol | backend | cases | R@1 | R@10 | R@50 | new R@10 | asks | p50 ms | p95 ms | tokens/turn |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    backends = [("rules", None), *(("llama_cpp", m) for m in models)]
    for protocol in ("ievalm", "replay"):
        for backend, model in backends:
            overrides = {"data_dir": settings.data_dir, **({"llm_model": model} if model else {})}
            config = EvalConfig(
                cases=eval_data("test_dev_turns.jsonl"),
                protocol=protocol,
                systems=("agent",),
                backend=backend,
                limit=cases,
                seed=seed,
                workers=1,
                out=out / f"{protocol}-{model or backend}",
                settings=overrides,
            )
            m = run_eval(config, progress=True)["protocols"][protocol]["systems"]["agent"]
            cells = [m.get(k) for k in ("recall@1", "recall@10", "recall@50", "recall_new@10", "questions_per_case")]
            cells += [m.get("latency_p50_ms"), m.get("latency_p95_ms"), m.get("tokens_per_turn")]
            shown = " | ".join("-" if c is None else f"{c:.3f}" if c < 10 else f"{c:.0f}" for c in cells)
            lines.append(f"| {protocol} | {model or backend} | {m.get('cases')} | {shown} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m crs_agent.evals.bench_llm", description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="smollm2-135m,gemma3-270m", help="Packaged GGUF models to compare.")
    parser.add_argument("--dialogues", type=int, default=60, help="ReDial test dialogues for the reading part.")
    parser.add_argument("--cases", type=int, default=100, help="Test turns for the ievalm and replay part.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench-llm-out"), help="Evaluation runs (resumable).")
    parser.add_argument("--skip-protocols", action="store_true", help="Only the reading part.")
    args = parser.parse_args(argv)
    settings = Settings()
    knowledge = ensure_index(settings)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    print(f"## Reading ({args.dialogues} ReDial test dialogues)\n")
    print(reading_rows(knowledge, settings, models, args.dialogues, args.seed))
    if not args.skip_protocols:
        print(f"\n## The agent under ievalm and replay ({args.cases} bundled test turns, seed {args.seed})\n")
        print(protocol_rows(settings, models, args.cases, args.seed, args.out))


if __name__ == "__main__":
    main()
