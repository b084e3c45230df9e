"""The protocols: iEvaLM's attribute-based one (``ievalm``), a replayed real dialogue (``replay``), and two
simulated seekers of our own (``hints``, ``llm``).

- ``ievalm``: see :mod:`crs_agent.evals.ievalm` (exactly as iEvaLM runs it on ReDial; a cold start).
- ``replay``: the real dialogue is fed to the system up to each recommendation point (the seeker's turns as
  messages, the human recommender's turns as heard replies, said in place of the system's own answer); the
  system's ranking after the seeker's last turn is scored against the movies the human recommender named
  next: all of them, and those not mentioned earlier in the dialogue ("new items", the standardized
  re-evaluation of Kostric & Balog, SIGIR 2026).
- ``hints`` and ``llm``: the seeker opens with the case's real opening; each system reply is a question,
  which the simulator answers, or a list, which the seeker accepts when a target is in its top k (the
  protocol decides that, not the simulator) and otherwise turns down; at most ``max_turns`` replies. The
  ``hints`` seeker volunteers a new true fact about a target after every turned-down list and any of the
  case's liked suggestions counts, so it is far easier than iEvaLM's: a development aid, not evidence.
  A cold start by default; ``known_history`` first tells the system the movies the seeker mentioned.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crs_agent.agent.understand import read_into
from crs_agent.evals.cases import Case, Utterance
from crs_agent.evals.simulators import SimulatedUser
from crs_agent.evals.systems import Session
from crs_agent.evals.transcripts import Turn
from crs_agent.tools import Profile
from crs_agent.tools.context import LastReply, fold_heard
from crs_agent.tools.linker import Linker

__all__ = ["PROTOCOLS", "SIMULATED", "accepts", "replay_contexts", "run_replay", "run_simulated"]

PROTOCOLS = ("ievalm", "replay", "hints", "llm")
SIMULATED = ("hints", "llm")


def accepts(turn: Turn, targets: list[str], k: int) -> bool:
    """The user accepts a list (not a question) with a target in its top ``k``."""
    return not turn.question and any(t in turn.ranked[:k] for t in targets)


def run_simulated(
    case: Case, session: Session, user: SimulatedUser, k: int, max_turns: int, known_history: bool = False
) -> list[Turn]:
    if known_history:
        session.know(case.history)
    message = user.opening()
    turns: list[Turn] = []
    for number in range(1, max_turns + 1):
        turn = session.respond(message.text)
        turn.leaked = message.leaked
        turns.append(turn)
        if accepts(turn, case.targets, k):
            turn.accepted = True
            break
        if number < max_turns:
            message = user.respond(turn)
    return turns


def replay_contexts(
    dialogue: list[Utterance], linker: Linker, embedder: Any = None
) -> Iterator[tuple[Profile, Utterance, list[str]]]:
    """What a system knows at each scored recommender turn of a real dialogue, read as the ``tools`` system
    reads it (pass the index's ``embedder`` for the learned reading, as the system has it): (the profile, the
    scored turn, its items not mentioned earlier in the dialogue). For fitting."""
    profile, last, mentioned = Profile(), None, set()
    for utterance in dialogue:
        if utterance.role == "seeker":
            profile = read_into(profile, utterance.text, linker, last, embedder)
        else:
            if utterance.scored and profile.turn:
                yield profile, utterance, [i for i in utterance.items if i not in mentioned]
            profile = fold_heard(profile, utterance.text, utterance.items)
            last = LastReply(item_ids=utterance.items, own=False)
        mentioned.update(utterance.items)


def run_replay(case: Case, session: Session) -> list[Turn]:
    scored = [n for n, u in enumerate(case.dialogue) if u.scored]
    turns: list[Turn] = []
    mentioned: set[str] = set()
    for utterance in case.dialogue[: scored[-1] + 1] if scored else []:
        if utterance.role == "seeker":
            turns.append(session.respond(utterance.text))
        else:
            if utterance.scored and turns:
                turns[-1].targets = list(utterance.items)
                turns[-1].new_targets = [i for i in utterance.items if i not in mentioned]
            session.hear(utterance.text, utterance.items)
        mentioned.update(utterance.items)
    return turns
