"""What the replayed recommendation turns' targets are, by ReDial's own per-movie labels.

    python -m crs_agent.evals.target_mix                       # the bundled validation and dev test turns
    python -m crs_agent.evals.target_mix --cases T.jsonl --dialogues D.jsonl [--cases ... --dialogues ...]

Each target (a movie the human recommender named at a scored turn) is one of:
- ``new``: not named earlier in the dialogue (Kostric & Balog's "new items");
- ``seen``: named earlier, and the seeker had seen it (``initiatorQuestions``: ``seen`` = 1). ReDial's
  recommenders often name such a movie back ("Little Nicky is great!"); this product never recommends a movie
  the seeker has seen, so for it these targets are out of reach;
- ``other repeat``: named earlier, not marked seen (a suggestion not yet watched, one the seeker wants to see).

No system is run and nothing is fitted: the table is a property of the turn files. It bounds the all-target
Recall@k of any system that never recommends a seen movie (at most 1 - the ``seen`` share), and says what an
all-target goal asks of the new targets.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from crs_agent.evals.cases import Case, cases_from_file, eval_data, redial_dialogue_id
from crs_agent.evals.reading_data import labels_of, load_redial
from crs_agent.knowledge import Catalog
from crs_agent.knowledge.loaders import load_bundled_movies

__all__ = ["KINDS", "dialogue_labels", "mix", "table"]

KINDS = ("new", "seen", "other repeat")
DEFAULT_FILES = (
    ("valid_turns.jsonl", "redial_valid_dialogues.jsonl"),
    ("test_dev_turns.jsonl", "redial_test_dev.jsonl"),
)


def dialogue_labels(path: Path) -> dict[str, dict[str, dict]]:
    """Per ReDial dialogue id of the file at ``path``, the seeker's per-movie answers (``labels_of``:
    ``initiatorQuestions``, else the recommender's answers about the seeker)."""
    return {str(record["conversationId"]): labels_of(record) for record in load_redial(path)}


def mix(cases: Iterable[Case], labels: Mapping[str, Mapping[str, dict]]) -> Counter[str]:
    """How many targets of the cases' scored turns are of each kind (see the module's docstring)."""
    counts: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
    for case in cases:
        answers = labels.get(redial_dialogue_id(case.id), {})
        named: set[str] = set()
        for utterance in case.dialogue:
            if utterance.scored:
                for item_id in utterance.items:
                    if item_id not in named:
                        counts["new"] += 1
                    elif (answers.get(item_id) or {}).get("seen") == 1:
                        counts["seen"] += 1
                    else:
                        counts["other repeat"] += 1
            named.update(utterance.items)
    return counts


def table(rows: list[tuple[str, Counter[str]]]) -> str:
    lines = [
        "| turns | targets | new | seen before (ReDial label) | other repeats | all-target ceiling, no seen movie |",
        "|---|---|---|---|---|---|",
    ]
    for name, counts in rows:
        total = max(sum(counts.values()), 1)
        cells = [f"{counts[k]} ({counts[k] / total:.3f})" for k in KINDS]
        lines.append(
            f"| {name} | {sum(counts.values())} | " + " | ".join(cells) + f" | {1 - counts['seen'] / total:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=Path, action="append", help="An iEvaLM or ReDial turn file (repeatable).")
    parser.add_argument(
        "--dialogues", type=Path, action="append", help="The ReDial dialogue file with its labels, one per --cases."
    )
    args = parser.parse_args(argv)
    if args.cases or args.dialogues:
        if len(args.cases or []) != len(args.dialogues or []):
            parser.error("give one --dialogues file for each --cases file")
        files = list(zip(args.cases, args.dialogues, strict=True))
    else:
        files = [(eval_data(cases), eval_data(dialogues)) for cases, dialogues in DEFAULT_FILES]
    catalog = Catalog(load_bundled_movies().items)  # ReDial's movies: the turn files name them by title
    rows = []
    for cases, dialogues in files:
        if not dialogues.is_file():
            parser.error(f"no dialogue file at {dialogues}: give the ReDial records the turns come from")
        rows.append((cases.name, mix(cases_from_file(cases, catalog).cases, dialogue_labels(dialogues))))
    print(table(rows))


if __name__ == "__main__":
    main()
