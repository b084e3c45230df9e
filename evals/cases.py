"""Evaluation cases from real dialogues, and the three input formats ``--cases`` accepts as they are.

1. Raw ReDial dialogues (the official JSONL: ``movieMentions``, ``messages``, ``initiatorQuestions``...).
   Targets are the movies the recommender suggested that the seeker marked liked; the history is the
   other movies the seeker mentioned (minus those marked disliked); the opening is what the seeker said
   before the first suggestion (at most three messages), with target titles removed. A dialogue without
   a target is skipped and counted.
2. iEvaLM recommendation turns (``context``, ``entity``, ``rec``): one case per turn, whose context is
   replayed and whose ``rec`` movies are the targets.
3. Our own cases, one :class:`Case` per JSON line.

    python -m crs_agent.evals.cases evals/data/redial_test_dev.jsonl -o evals/data/dev_cases.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from crs_agent.evals.leaks import TitleGuard
from crs_agent.knowledge import Catalog, CrsAgentError, split_title_year

__all__ = [
    "Case",
    "CaseFileError",
    "Conversion",
    "Utterance",
    "cases_from_file",
    "eval_data",
    "from_ievalm_turn",
    "from_redial",
    "ievalm_context",
    "redial_dialogue_id",
    "redial_utterances",
    "write_cases",
]

MAX_OPENING_MESSAGES = 3
GENERIC_OPENING = "Hi! Can you recommend a movie?"
_MENTION = re.compile(r"@(\d+)")


class CaseFileError(CrsAgentError):
    """A ``--cases`` file that cannot be read as any of the three formats."""


class Utterance(BaseModel):
    role: Literal["seeker", "recommender"]
    text: str
    items: list[str] = Field(default_factory=list, description="Catalog ids named in the text.")
    scored: bool = Field(default=False, description="A recommender turn the replay protocol scores.")


class Case(BaseModel):
    """One evaluation case: what the seeker says first, what they know, and the hidden targets."""

    id: str
    opening: str = Field(description="The seeker's first message(s), target titles removed.")
    history: list[str] = Field(default_factory=list, description="Ids of movies the seeker mentioned (not targets).")
    targets: list[str] = Field(min_length=1, description="Hidden target ids; the first one is described.")
    dialogue: list[Utterance] = Field(default_factory=list, description="The real dialogue, for replay.")
    source: str = ""


def eval_data(name: str) -> Path:
    """A file bundled in ``evals/data``."""
    return Path(str(resources.files("crs_agent.evals") / "data" / name))


@dataclass
class Conversion:
    """Cases read from a file, with what was skipped and why."""

    format: str
    cases: list[Case] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    generic_openings: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in self.skipped.items()) or "none"
        return f"{len(self.cases)} cases from {self.format} (skipped: {skipped})"


# -- raw ReDial -----------------------------------------------------------------------------------
def _title(raw: str) -> str:
    title, year = split_title_year(raw)
    return f"{title} ({year})" if year else title


def _blocks(dialogue: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Consecutive messages of one speaker merged: (role, raw texts)."""
    seeker = dialogue["initiatorWorkerId"]
    blocks: list[tuple[str, list[str]]] = []
    for message in dialogue["messages"]:
        role = "seeker" if message["senderWorkerId"] == seeker else "recommender"
        text = " ".join(message["text"].split())
        if not text:
            continue
        if blocks and blocks[-1][0] == role:
            blocks[-1][1].append(text)
        else:
            blocks.append((role, [text]))
    return blocks


def redial_utterances(dialogue: dict[str, Any], catalog: Catalog | None = None) -> list[Utterance]:
    """A raw ReDial dialogue as utterances (one per run of messages of one speaker), "@id" mentions written
    as "Title (year)"; a recommender turn that names a catalog movie after the seeker spoke is scored."""
    mentions = {k: _title(v or "") for k, v in (dialogue.get("movieMentions") or {}).items()}
    known = (lambda i: i in catalog) if catalog is not None else (lambda i: True)  # noqa: E731
    out: list[Utterance] = []
    for role, texts in _blocks(dialogue):
        raw = " ".join(texts)
        items = [i for i in dict.fromkeys(_MENTION.findall(raw)) if known(i)]
        scored = role == "recommender" and bool(items) and any(u.role == "seeker" for u in out)
        text = _MENTION.sub(lambda m: mentions.get(m[1], "a movie"), raw)
        out.append(Utterance(role=role, text=text, items=items, scored=scored))
    return out


def from_redial(dialogue: dict[str, Any], catalog: Catalog | None, conversion: Conversion) -> Case | None:
    mentions = {k: _title(v or "") for k, v in (dialogue.get("movieMentions") or {}).items()}
    questions = dialogue.get("initiatorQuestions") or dialogue.get("respondentQuestions") or {}
    known = (lambda i: i in catalog) if catalog is not None else (lambda i: True)  # noqa: E731
    blocks = _blocks(dialogue)
    order = list(dict.fromkeys(m for _, texts in blocks for t in texts for m in _MENTION.findall(t)))
    liked = [i for i in order if (questions.get(i) or {}).get("liked") == 1]
    targets = [i for i in liked if questions[i].get("suggested") == 1 and known(i)]
    if not targets:
        conversion.skip("without a target")
        return None
    disliked = {i for i, q in questions.items() if (q or {}).get("liked") == 0}
    said = [m for role, texts in blocks if role == "seeker" for t in texts for m in _MENTION.findall(t)]
    history = [i for i in dict.fromkeys(said) if i not in targets and i not in disliked and known(i)]

    def restore(text: str, drop: set[str] | frozenset[str] = frozenset()) -> str:
        return _MENTION.sub(lambda m: "" if m[1] in drop else mentions.get(m[1], "a movie"), text)

    dialogue_out = redial_utterances(dialogue, catalog)
    opening = _opening(blocks, lambda t: restore(t, set(targets)), [mentions.get(t, "") for t in targets])
    if not opening:
        conversion.generic_openings += 1
    return Case(
        id=f"redial-{dialogue.get('conversationId', len(conversion.cases))}",
        opening=opening or GENERIC_OPENING,
        history=history,
        targets=targets,
        dialogue=dialogue_out,
        source="redial",
    )


def _opening(blocks: list[tuple[str, list[str]]], restore: Any, target_titles: list[str]) -> str:
    """What the seeker said before the first suggestion (or their first block), at most three messages."""
    said: list[str] = []
    for role, texts in blocks:
        if role == "recommender" and _MENTION.search(" ".join(texts)) and said:
            break
        if role == "seeker":
            said += texts
    if not said:
        said = next((texts for role, texts in blocks if role == "seeker"), [])
    guard = TitleGuard([split_title_year(t)[0] for t in target_titles])
    text = " ".join(guard.redact(restore(t), "") for t in said[:MAX_OPENING_MESSAGES])
    return re.sub(r"\s+([,.!?])", r"\1", " ".join(text.split())).strip()


# -- iEvaLM turns ---------------------------------------------------------------------------------
def ievalm_context(context: list[Any]) -> list[tuple[str, str]]:
    """iEvaLM's ``context`` as (role, text): the seeker at even positions, the recommender at odd ones; empty
    strings are skipped (the others keep their positions, as iEvaLM reads them), and consecutive texts of one
    speaker are one turn."""
    turns: list[tuple[str, str]] = []
    for position, raw in enumerate(context):
        text = " ".join(str(raw).split())
        if not text:
            continue
        role = "seeker" if position % 2 == 0 else "recommender"
        if turns and turns[-1][0] == role:
            turns[-1] = (role, f"{turns[-1][1]} {text}")
        else:
            turns.append((role, text))
    return turns


def redial_dialogue_id(case_id: str) -> str:
    """The ReDial dialogue of a case read from an iEvaLM turn file (``ievalm-<dialogue>-<turn>``, see
    :func:`from_ievalm_turn`), else ``case_id`` itself."""
    parts = case_id.split("-")
    return parts[1] if case_id.startswith("ievalm-") and len(parts) >= 3 else case_id


def from_ievalm_turn(row: dict[str, Any], catalog: Catalog, conversion: Conversion) -> Case | None:
    targets = list(dict.fromkeys(i.id for name in row.get("rec", []) for i in catalog.by_title(name)[:1]))
    if not targets:
        conversion.skip("recommending no catalog item")
        return None
    entities = [(name, i.id) for name in row.get("entity", []) for i in catalog.by_title(name)[:1]]
    dialogue = []
    for role, text in ievalm_context(row.get("context", [])):
        named = [item_id for name, item_id in entities if name in text]
        dialogue.append(Utterance(role=role, text=text, items=list(dict.fromkeys(named))))
    if not any(u.role == "seeker" for u in dialogue):
        conversion.skip("with no seeker turn")
        return None
    dialogue.append(Utterance(role="recommender", text=str(row.get("resp", "")), items=targets, scored=True))
    said = [i for u in dialogue[:-1] if u.role == "seeker" for i in u.items]
    guard = TitleGuard([catalog[t].title for t in targets])
    first = next((u.text for u in dialogue if u.role == "seeker" and guard.redact(u.text, "")), "")
    opening = guard.redact(first, "").strip()
    if not opening:
        conversion.generic_openings += 1
    return Case(
        id=f"ievalm-{row.get('dialog_id', '?')}-{row.get('turn_id', len(conversion.cases))}",
        opening=opening or GENERIC_OPENING,
        history=[i for i in dict.fromkeys(said) if i not in targets],
        targets=targets,
        dialogue=dialogue,
        source="ievalm",
    )


# -- any file ------------------------------------------------------------------------------------
def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as err:
                    raise CaseFileError(f"{path}:{number} is not JSON ({err.msg}): --cases takes JSONL.") from err


def _detect(row: dict[str, Any]) -> str:
    if "messages" in row and "movieMentions" in row:
        return "redial"
    if "context" in row and "rec" in row:
        return "ievalm"
    if "targets" in row and "id" in row:
        return "cases"
    raise CaseFileError(
        f"Unknown case format (keys: {', '.join(sorted(row)[:6])}): --cases takes raw ReDial dialogues, "
        "iEvaLM turn files or crs-agent case JSONL (id, opening, history, targets)."
    )


def cases_from_file(path: Path, catalog: Catalog | None = None) -> Conversion:
    """Read any of the three formats; iEvaLM turns need the catalog to map titles to ids."""
    if not path.is_file():
        raise CaseFileError(f"No case file at {path}: give a JSONL file (e.g. {eval_data('dev_cases.jsonl')}).")
    conversion: Conversion | None = None
    for number, row in _rows(path):
        if conversion is None:
            conversion = Conversion(_detect(row))
            if conversion.format == "ievalm" and catalog is None:
                raise CaseFileError("iEvaLM turn files name movies by title: a catalog is needed to read them.")
        case = _convert(row, conversion, catalog, f"{path}:{number}")
        if case is not None:
            conversion.cases.append(case)
    if conversion is None:
        raise CaseFileError(f"{path} holds no cases.")
    return conversion


def _convert(row: dict[str, Any], conversion: Conversion, catalog: Catalog | None, where: str) -> Case | None:
    try:
        if conversion.format == "redial":
            return from_redial(row, catalog, conversion)
        if conversion.format == "ievalm":
            return from_ievalm_turn(row, catalog, conversion)  # type: ignore[arg-type]
        case = Case.model_validate(row)
    except (KeyError, TypeError, ValidationError) as err:
        raise CaseFileError(f"{where}: not a valid {conversion.format} record ({err}).") from err
    if catalog is not None:
        case.targets = [t for t in case.targets if t in catalog]
        if not case.targets:
            conversion.skip("with no target in the catalog")
            return None
    return case


def write_cases(cases: Iterable[Case], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for case in cases:
            out.write(case.model_dump_json(exclude_defaults=True) + "\n")
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="Raw ReDial or iEvaLM turn JSONL.")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, help="Index whose catalog resolves titles (iEvaLM turns).")
    args = parser.parse_args()
    catalog = None
    if args.data_dir:
        from crs_agent.knowledge import Settings, load_knowledge

        catalog = load_knowledge(Settings(data_dir=args.data_dir)).catalog
    conversion = cases_from_file(args.source, catalog)
    write_cases(conversion.cases, args.out)
    print(f"wrote {args.out}: {conversion.summary()}, {conversion.generic_openings} generic openings")


if __name__ == "__main__":
    main()
