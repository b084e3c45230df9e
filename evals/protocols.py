"""The protocols: a simulated conversation (``attribute``, ``llm``) or a replayed real one (``replay``).

Simulated: the user opens with the case's real opening; each system reply is either a question, which
the simulator answers, or a list, which the user accepts when a target is in its top k (the protocol
decides that, not the simulator) and otherwise turns down; at most ``max_turns`` system replies. The
system is told the user's known history first (a returning user), never the targets.

Replay: the real dialogue is fed to the system up to each recommendation point (the seeker's turns as
messages, the human recommender's turns as heard replies); the system's ranking after the seeker's last
turn is scored against the movies the human recommender named next.
"""

from __future__ import annotations

from collections.abc import Iterator

from crs_agent.agent.understand import read_into
from crs_agent.evals.cases import Case, Utterance
from crs_agent.evals.simulators import SimulatedUser
from crs_agent.evals.systems import Session
from crs_agent.evals.transcripts import Turn
from crs_agent.tools import Profile
from crs_agent.tools.context import LastReply, fold_heard
from crs_agent.tools.linker import Linker

__all__ = ["PROTOCOLS", "accepts", "run_replay", "run_simulated"]

PROTOCOLS = ("attribute", "llm", "replay")


def accepts(turn: Turn, targets: list[str], k: int) -> bool:
    """The user accepts a list (not a question) with a target in its top ``k``."""
    return not turn.question and any(t in turn.ranked[:k] for t in targets)


def run_simulated(case: Case, session: Session, user: SimulatedUser, k: int, max_turns: int) -> list[Turn]:
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


def replay_contexts(dialogue: list[Utterance], linker: Linker) -> Iterator[tuple[Profile, Utterance, list[str]]]:
    """What a system knows at each scored recommender turn of a real dialogue, read as the ``tools`` system
    reads it: (the profile, the scored turn, its items not mentioned earlier in the dialogue). For fitting."""
    profile, last, mentioned = Profile(), None, set()
    for utterance in dialogue:
        if utterance.role == "seeker":
            profile = read_into(profile, utterance.text, linker, last)
        else:
            if utterance.scored and profile.turn:
                yield profile, utterance, [i for i in utterance.items if i not in mentioned]
            profile = fold_heard(profile, utterance.text, utterance.items)
            last = LastReply(item_ids=utterance.items, own=False)
        mentioned.update(utterance.items)


def run_replay(case: Case, session: Session) -> list[Turn]:
    scored = [n for n, u in enumerate(case.dialogue) if u.scored]
    turns: list[Turn] = []
    for utterance in case.dialogue[: scored[-1] + 1] if scored else []:
        if utterance.role == "seeker":
            turns.append(session.respond(utterance.text))
        else:
            if utterance.scored and turns:
                turns[-1].targets = list(utterance.items)
            session.hear(utterance.text, utterance.items)
    return turns
