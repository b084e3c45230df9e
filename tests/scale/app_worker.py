"""One app process for the scale tests: ``Recommender.from_settings`` on the settings given as JSON in argv[1],
then one JSON request per stdin line, one JSON answer per stdout line.

Requests: ``{"op": "chat", "user": ..., "thread": ..., "message": ...}`` or ``{"op": "state", "user": ...,
"thread": ...}`` (history, profile, threads and memory as this process reads them).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from crs_agent.agent import Recommender
from crs_agent.knowledge import Settings


def handle(rec: Recommender, request: dict[str, Any]) -> dict[str, Any]:
    user, thread = request["user"], request["thread"]
    if request["op"] == "chat":
        reply = rec.chat(request["message"], user_id=user, thread_id=thread)
        return {"pid": os.getpid(), "text": reply.text, "items": [item.id for item in reply.items]}
    return {
        "pid": os.getpid(),
        "history": rec.history(user, thread),
        "profile": rec.profile(user, thread).model_dump(),
        "threads": rec.threads(user),
        "memory": sorted(record.text for record in rec.knowledge.memory.all(user)),
    }


def main() -> None:
    rec = Recommender.from_settings(Settings(**json.loads(sys.argv[1])))
    print(json.dumps({"pid": os.getpid(), "checkpointer": type(rec.checkpointer).__name__}), flush=True)
    for line in sys.stdin:
        try:
            answer = handle(rec, json.loads(line))
        except Exception as err:  # noqa: BLE001 - reported to the test, which fails with it
            answer = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
