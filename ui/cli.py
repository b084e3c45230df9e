"""``crs-agent ui``: build the index if needed (with a progress bar), then serve the web chat on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser"]


def _items(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10:
        raise argparse.ArgumentTypeError("--items must be between 1 and 10")
    return value


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ui = subparsers.add_parser("ui", parents=[common], help="Open the web chat (builds the index first if needed).")
    ui.add_argument("--host", default="127.0.0.1", help="Address to serve on (default: 127.0.0.1, this machine only).")
    ui.add_argument("--port", type=int, help="Port (default: 7860, or the next free one).")
    ui.add_argument("--backend", choices=["llama_cpp", "openai", "transformers", "rules"], help="LLM backend.")
    ui.add_argument("--model", help="GGUF path, server model name or transformers model directory.")
    ui.add_argument("--items", type=_items, default=3, help="How many items per answer (1-10, default 3).")
    ui.add_argument("--share", action="store_true", help="Also serve through a public gradio.live link.")
    ui.set_defaults(run=run)


def _settings(args: argparse.Namespace):
    from crs_agent.knowledge import Settings

    overrides = {
        key: value
        for key, value in (
            ("data_dir", args.data_dir),
            ("catalog", args.catalog),
            ("llm_backend", args.backend),
            ("llm_model", args.model),
        )
        if value
    }
    return Settings(**overrides)


def run(args: argparse.Namespace) -> int:
    from crs_agent.ui.app import create_app, launch_app

    settings = _settings(args)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"crs-agent: serving on {args.host}: the page has no login, and anyone who can reach it can open "
            "a user's conversations by typing their name.",
            file=sys.stderr,
        )
    print(f"Loading crs-agent ({settings.llm_backend} backend, data in {settings.data_dir})...", file=sys.stderr)
    app = create_app(settings, top_k=args.items)
    launch_app(app, host=args.host, port=args.port, share=args.share)
    return 0
