"""The terminal chat behind ``crs-agent chat``: streams answers; /why, /profile, /reset, /quit."""

from __future__ import annotations

import sys
import uuid
from typing import TextIO

from crs_agent.agent.api import Recommender, Reply

__all__ = ["describe_profile", "explain_trace", "run_terminal_chat"]

HELP = "Commands: /why (the agent's work), /profile (what I know), /reset (new conversation), /quit"


def describe_profile(recommender: Recommender, user_id: str, thread_id: str) -> str:
    p = recommender.profile(user_id, thread_id)
    catalog = recommender.knowledge.catalog
    parts = []
    if p.liked_ids or p.genres or p.people:
        liked = [catalog[i].label for i in p.liked_ids if i in catalog]
        parts.append("you like: " + ", ".join([*liked, *p.genres, *p.people]))
    if p.disliked_ids or p.exclude_genres or p.exclude_people:
        disliked = [catalog[i].label for i in p.disliked_ids if i in catalog]
        parts.append("you don't want: " + ", ".join([*disliked, *p.exclude_genres, *p.exclude_people]))
    if p.year_min or p.year_max:
        parts.append(f"years: {p.year_min or '...'}-{p.year_max or '...'}")
    return "; ".join(parts) or "nothing yet"


def explain_trace(reply: Reply | None) -> str:
    if reply is None:
        return "Nothing to explain yet."
    lines = [f"intent: {reply.trace.intent}, tool steps: {reply.trace.steps}"]
    for path in reply.trace.paths:
        lines.append(f"  path {path.summary()}  ({path.rationale})")
        lines += [f"    {s.tool}({s.args}) -> {s.observation[:70]}" for s in path.steps]
    for verdict in reply.trace.verdicts:
        lines.append(
            f"  reflection [{verdict.source}]: {'pass' if verdict.passed else 'fail'} {'; '.join(verdict.reasons)}"
        )
    return "\n".join(lines)


def run_terminal_chat(
    recommender: Recommender, user_id: str, thread_id: str, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> int:
    print(f"crs-agent: tell me what you feel like watching. {HELP}", file=stdout)
    last: Reply | None = None
    while True:
        print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line or line.strip() in ("/quit", "/exit"):
            return 0
        command = line.strip()
        if command == "/why":
            print(explain_trace(last), file=stdout)
        elif command == "/profile":
            print(describe_profile(recommender, user_id, thread_id), file=stdout)
        elif command == "/reset":
            thread_id, last = f"{thread_id.split('~')[0]}~{uuid.uuid4().hex[:6]}", None
            print(f"New conversation ({thread_id}).", file=stdout)
        elif command.startswith("/"):
            print(HELP, file=stdout)
        else:
            for event in recommender.stream(line, user_id=user_id, thread_id=thread_id):
                if event.kind == "token":
                    print(event.text, end="", file=stdout, flush=True)
                elif event.kind == "reply":
                    last = event.reply
            print(file=stdout)
