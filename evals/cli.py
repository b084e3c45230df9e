"""``crs-agent eval``: simulated-dialogue and replay evaluation with baselines, reports and plots."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crs_agent.evals.protocols import PROTOCOLS, SIMULATED
from crs_agent.evals.systems import SYSTEMS

__all__ = ["add_parser"]

DEFAULT_SYSTEMS = "agent,tools,popularity,embedding,itemcf"
_PROTOCOL_HELP = (
    "ievalm: iEvaLM's attribute-based protocol exactly (default; iEvaLM turn files; 5 rounds; the seeker answers "
    "only a question about genre, star or director, with the targets' values, and judges lists of 50: "
    '"That\'s perfect, thank you!" or "I don\'t like them."). replay: real dialogues fed turn by turn, the '
    "ranking scored against the movies the human recommender named next, on all of them and on those not "
    "mentioned earlier. hints: our own seeker, easier than iEvaLM's: it volunteers a new true hint after every "
    "turned-down list and any of the case's liked suggestions counts (a development aid). llm: an LLM seeker."
)


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    ev = subparsers.add_parser(
        "eval",
        parents=[common],
        help="Evaluate the agent and baselines on real ReDial dialogues, beside published numbers.",
        description="Run cases x systems under one protocol; resumable; writes report.json, report.md, plots "
        "and transcripts to --out.",
    )
    ev.add_argument(
        "--cases",
        type=Path,
        help="iEvaLM turn JSONL, raw ReDial JSONL or crs-agent case JSONL (default: the bundled dev test turns "
        "for ievalm and replay, the bundled dev cases for hints and llm).",
    )
    ev.add_argument("--protocol", choices=list(PROTOCOLS), default="ievalm", help=_PROTOCOL_HELP)
    ev.add_argument(
        "--systems",
        default=DEFAULT_SYSTEMS,
        help=f"Comma-separated, from: {', '.join(SYSTEMS)}; agent or tools with candidate generators left out, as "
        f"agent-without-people+kg (default: {DEFAULT_SYSTEMS}).",
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
    ev.add_argument(
        "--max-turns", type=int, default=5, help="System replies per simulated conversation (ievalm: rounds, 5)."
    )
    ev.add_argument(
        "--k",
        type=int,
        default=10,
        help="Items a system shows per list (hints/llm: the seeker accepts a target among them; ievalm judges "
        "the system's whole ranking, up to 50, whatever it shows).",
    )
    ev.add_argument(
        "--known-history",
        action="store_true",
        help="hints/llm: first tell the system the movies the seeker mentioned (a returning user, not a cold start).",
    )
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
        cases=args.cases or eval_data("dev_cases.jsonl" if args.protocol in SIMULATED else "test_dev_turns.jsonl"),
        protocol=args.protocol,
        systems=tuple(s.strip() for s in args.systems.split(",") if s.strip()),
        backend=args.backend,
        sim_backend=args.sim_backend,
        max_turns=args.max_turns,
        k=args.k,
        limit=args.limit,
        seed=args.seed,
        workers=args.workers,
        known_history=args.known_history,
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
