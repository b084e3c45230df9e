"""``crs-agent eval``: simulated-dialogue and replay evaluation with baselines, reports and plots."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]

DEFAULT_SYSTEMS = "agent,popularity,embedding,itemcf"


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    ev = subparsers.add_parser(
        "eval",
        parents=[common],
        help="Evaluate the agent and baselines on real dialogues with simulated users.",
        description="Run cases x systems under one protocol; resumable; writes report.json, report.md, plots "
        "and transcripts to --out.",
    )
    ev.add_argument(
        "--cases",
        type=Path,
        help="Raw ReDial JSONL, iEvaLM turn JSONL or crs-agent case JSONL (default: the bundled dev cases).",
    )
    ev.add_argument("--protocol", choices=["attribute", "llm", "replay"], default="attribute")
    ev.add_argument(
        "--systems",
        default=DEFAULT_SYSTEMS,
        help="Comma-separated: agent, popularity, embedding, itemcf, agent-no-kg, agent-no-reflect, "
        f"agent-single-path, agent-no-memory (default: {DEFAULT_SYSTEMS}).",
    )
    ev.add_argument(
        "--backend",
        choices=["llama_cpp", "openai", "transformers", "rules"],
        default="rules",
        help="The agent's LLM backend (default: rules, the deterministic floor).",
    )
    ev.add_argument(
        "--sim-backend",
        choices=["llama_cpp", "openai", "transformers"],
        default="llama_cpp",
        help="The llm protocol's user-simulator backend (default: the embedded model).",
    )
    ev.add_argument("--max-turns", type=int, default=5, help="System replies per simulated conversation.")
    ev.add_argument("--k", type=int, default=10, help="List cut-off: the user accepts a target in the top k.")
    ev.add_argument("--limit", type=int, help="Only N cases, drawn with --seed.")
    ev.add_argument("--seed", type=int, default=0, help="Case sampling and the LLM simulator's sampling.")
    ev.add_argument("--workers", type=int, default=1, help="Parallel worker processes.")
    ev.add_argument("--out", type=Path, default=Path("eval-out"), help="Output directory (resumed if it exists).")
    ev.add_argument("--quiet", action="store_true", help="No progress bar.")
    ev.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from crs_agent.evals.cases import eval_data
    from crs_agent.evals.report import format_table
    from crs_agent.evals.runner import EvalConfig, EvalSettingsError, run_eval

    if args.max_turns < 1 or args.k < 1 or args.workers < 1 or (args.limit is not None and args.limit < 1):
        raise EvalSettingsError("--max-turns, --k, --workers and --limit must be positive.")
    settings = {key: getattr(args, key) for key in ("data_dir", "catalog") if getattr(args, key, None)}
    config = EvalConfig(
        cases=args.cases or eval_data("dev_cases.jsonl"),
        protocol=args.protocol,
        systems=tuple(s.strip() for s in args.systems.split(",") if s.strip()),
        backend=args.backend,
        sim_backend=args.sim_backend,
        max_turns=args.max_turns,
        k=args.k,
        limit=args.limit,
        seed=args.seed,
        workers=args.workers,
        out=args.out,
        settings=settings,
    )
    report = run_eval(config, progress=not args.quiet)
    print("\n" + format_table(report))
    written = [str(args.out / "report.json"), str(args.out / "report.md"), report["plots"]]
    print("wrote " + ", ".join(w for w in written if w))
    if report["plots"] is None:
        print('plots skipped: pip install "crs-agent[plots]" for matplotlib', file=sys.stderr)
    return 0
