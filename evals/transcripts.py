"""Transcripts: everything a run saw, one JSON line per (system, case), so metrics and people can read them.

A transcript file is appended to as cases finish; a re-run reads the finished case ids first and skips
them (a line cut short by a crash is ignored and that case runs again).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

__all__ = ["Shown", "Transcript", "TranscriptFile", "Turn"]


class Shown(BaseModel):
    """An item the user saw, with the reason the system gave."""

    id: str
    title: str = ""
    reason: str = ""
    entities: list[str] = Field(default_factory=list, description="Entities the reason names.")
    ungrounded: list[str] = Field(
        default_factory=list, description="Named entities on no KG path from the user's profile and not in the item."
    )
    popularity: float = 0.0


class Turn(BaseModel):
    """One exchange: what the user said, and what the system answered."""

    user: str
    reply: str = ""
    question: bool = Field(default=False, description="The system asked a question instead of recommending.")
    asked: str | None = Field(default=None, description='What the question asked about ("genre", "star"...).')
    ranked: list[str] = Field(default_factory=list, description="The system's ranking, best first (at most 50).")
    shown: list[Shown] = Field(default_factory=list, description="The top k the user saw.")
    latency_ms: float = 0.0
    tokens: int = Field(default=0, description="LLM tokens the system used in this turn.")
    leaked: bool = Field(default=False, description="The simulator's first draft named a target (then fixed).")
    accepted: bool = False
    targets: list[str] = Field(default_factory=list, description="Replay: the movies the real recommender named next.")
    new_targets: list[str] = Field(
        default_factory=list, description="Replay: those of the targets not mentioned earlier in the dialogue."
    )


class Transcript(BaseModel):
    case_id: str
    system: str
    protocol: str
    k: int
    max_turns: int
    targets: list[str]
    target_titles: list[str] = Field(default_factory=list)
    turns: list[Turn] = Field(default_factory=list)
    error: str | None = None


class TranscriptFile:
    """``DIR/transcripts/<protocol>-<system>.jsonl``: append-only, one transcript per finished case."""

    def __init__(self, directory: Path, protocol: str, system: str) -> None:
        self.path = directory / "transcripts" / f"{protocol}-{system}.jsonl"

    def load(self) -> list[Transcript]:
        """The latest transcript of each case (a case that failed and ran again keeps its last run)."""
        if not self.path.is_file():
            return []
        out: dict[str, Transcript] = {}
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    transcript = Transcript.model_validate_json(line)
                except (ValidationError, json.JSONDecodeError):
                    continue  # a line cut short by an interrupted run: that case runs again
                out[transcript.case_id] = transcript
        return list(out.values())

    def finished(self) -> set[str]:
        return {t.case_id for t in self.load() if t.error is None}

    def append(self, transcript: Transcript) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as out:
            out.seek(0, 2)
            if out.tell():
                out.seek(-1, 2)
                if out.read(1) != b"\n":  # finish a line an interrupted run left open
                    out.write(b"\n")
            out.write(transcript.model_dump_json(exclude_defaults=True).encode() + b"\n")
