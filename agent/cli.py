"""``crs-agent``: a thin command line over the library.

Our own errors become one line on stderr and exit code 2; set ``CRS_AGENT_DEBUG=1`` for tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

__all__ = ["main"]

# Modules with ``add_parser(subparsers, common)`` that register a sub-command whose ``run(args) -> int`` is
# set with ``set_defaults(run=...)``; they must import heavy dependencies inside ``run`` only.
_SUBCOMMANDS: tuple[str, ...] = ("crs_agent.evals.cli", "crs_agent.ui.cli")


def _settings(args: argparse.Namespace):
    from crs_agent.knowledge import Settings

    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    if getattr(args, "catalog", None):
        overrides["catalog"] = args.catalog
    return Settings(**overrides)


def _cmd_index(args: argparse.Namespace) -> int:
    from crs_agent.knowledge import build_index

    report = build_index(_settings(args), rebuild=args.rebuild, strict=args.strict, progress=not args.quiet)
    print(report.summary())
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from crs_agent.knowledge import index_status
    from crs_agent.knowledge.index import read_manifest

    settings = _settings(args)
    status = index_status(settings)
    print(f"index: {status} ({settings.index_dir})")
    manifest = read_manifest(settings)
    if manifest:
        print(f"source: {manifest['source']}, items: {manifest['items']}, KG edges: {manifest['kg']['edges']}")
    return 0 if status == "ok" else 1


def _chat_settings(args: argparse.Namespace):
    settings = _settings(args)
    updates = {k: v for k, v in (("llm_backend", args.backend), ("llm_model", args.model)) if v}
    return settings.model_copy(update=updates) if updates else settings


def _cmd_chat(args: argparse.Namespace) -> int:
    from crs_agent.agent.api import Recommender
    from crs_agent.agent.chat import run_terminal_chat

    settings = _chat_settings(args)
    print(f"Loading crs-agent ({settings.llm_backend} backend)...", file=sys.stderr)
    recommender = Recommender.from_settings(settings, top_k=args.items)
    return run_terminal_chat(recommender, user_id=args.user, thread_id=args.thread)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crs-agent", description="An offline-first conversational recommender.")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", type=Path, help="Data directory (default: CRS_AGENT_DATA_DIR or ~/.local/share/crs-agent)."
    )
    common.add_argument("--catalog", type=Path, help="A catalog (.jsonl/.csv) instead of the bundled movies.")

    index = sub.add_parser("index", parents=[common], help="Build the index (catalog, KG, signals, vectors).")
    index.add_argument("--rebuild", action="store_true", help="Rebuild even if the inputs are unchanged.")
    index.add_argument(
        "--strict", action="store_true", help="Stop at the first bad catalog row instead of skipping it."
    )
    index.add_argument("--quiet", action="store_true", help="No progress bar.")
    index.set_defaults(run=_cmd_index)

    status = sub.add_parser("status", parents=[common], help="Say whether the index is built and current.")
    status.set_defaults(run=_cmd_status)

    chat = sub.add_parser("chat", parents=[common], help="Chat in the terminal (/why, /profile, /reset, /quit).")
    chat.add_argument("--backend", choices=["llama_cpp", "openai", "transformers", "rules"], help="LLM backend.")
    chat.add_argument("--model", help="GGUF path, server model name or transformers model directory.")
    chat.add_argument("--user", default="terminal", help="User id (memory and conversations are per user).")
    chat.add_argument("--thread", default="terminal", help="Conversation id: the same id resumes it.")
    chat.add_argument("--items", type=int, default=3, help="How many items per answer.")
    chat.set_defaults(run=_cmd_chat)

    for module in _SUBCOMMANDS:  # `eval` and `ui` live with their folders; each adds its own sub-parser
        importlib.import_module(module).add_parser(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from crs_agent.knowledge.errors import CrsAgentError

    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (CrsAgentError, ValidationError) as err:
        if os.environ.get("CRS_AGENT_DEBUG") == "1":
            raise
        message = str(err) if isinstance(err, CrsAgentError) else _settings_message(err)
        print(f"crs-agent: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crs-agent: interrupted", file=sys.stderr)
        return 130


def _settings_message(err: ValidationError) -> str:
    first = err.errors()[0]
    return f"invalid setting {'.'.join(map(str, first['loc']))}: {first['msg']} (see README, Configuration)."


if __name__ == "__main__":
    sys.exit(main())
