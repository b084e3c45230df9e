"""Pure renderers: what the page shows of a reply, a trace, a profile and the settings, as HTML or Markdown.

Everything the catalog or the user supplies is escaped; nothing here touches Gradio or the recommender.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from crs_agent.agent import ReplyItem, Settings, Trace
from crs_agent.knowledge import Catalog
from crs_agent.tools import Profile

__all__ = [
    "STATUS_OF_NODE",
    "card_html",
    "correction_choices",
    "profile_markdown",
    "settings_markdown",
    "thread_label",
    "trace_markdown",
]

# What the agent is doing while a node runs, shown in the answer bubble until the first token arrives.
STATUS_OF_NODE = {
    "understand": "Reading your message",
    "plan": "Planning",
    "act": "Searching the catalog",
    "reflect": "Checking the picks",
    "respond": "Writing the answer",
}
_ROLE_LABELS = {"director": "Directed by", "star": "With", "writer": "Written by", "author": "By"}


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _people_html(people: Mapping[str, Sequence[str]]) -> str:
    lines = []
    roles = [r for r in _ROLE_LABELS if r in people] + sorted(r for r in people if r not in _ROLE_LABELS)
    for role in roles:
        names = ", ".join(_esc(n) for n in people[role][:3])
        if names:
            label = _ROLE_LABELS.get(role, role.replace("_", " ").capitalize() + ":")
            lines.append(f'<div class="crs-people"><span>{_esc(label)}</span> {names}</div>')
    return "".join(lines)


def card_html(item: ReplyItem, rank: int) -> str:
    """One recommended item: title, year, genres, people, a bar of the calibrated score and the grounded reason."""
    percent = round(item.score * 100)
    year = f' <span class="crs-year">({item.year})</span>' if item.year else ""
    genres = "".join(f'<span class="crs-genre">{_esc(g)}</span>' for g in item.genres[:4])
    return (
        f'<div class="crs-card" data-item-id="{_esc(item.id)}">'
        f'<div class="crs-title"><span class="crs-rank">{rank}</span>{_esc(item.title)}{year}</div>'
        f'<div class="crs-genres">{genres}</div>'
        f"{_people_html(item.people)}"
        f'<div class="crs-score" title="Calibrated match score: {percent}%">'
        f'<div class="crs-bar"><div class="crs-fill" style="width:{percent}%"></div></div>'
        f"<span>{percent}% match</span></div>"
        f'<div class="crs-reason">{_esc(item.reason)}</div>'
        "</div>"
    )


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def trace_markdown(trace: Trace | None) -> str:
    """The agent's work for one turn: every explored path with its tool calls, then the reflection verdicts."""
    if trace is None:
        return "_Nothing yet: ask for something and the agent's work for that turn shows up here._"
    lines = [f"**Intent:** {trace.intent or '—'} · **tool steps:** {trace.steps}"]
    if not trace.paths:
        lines.append("\n_No tools were needed: the agent asked a question instead._")
    for path in trace.paths:
        rationale = path.rationale.removeprefix("[policy] ")
        lines.append(f"\n**Path {path.id + 1} · {path.strategy}** ({path.status}) — {_short(rationale, 120)}")
        for step in path.steps:
            seen = _short(step.observation.replace("\n", "; "), 160)
            lines.append(f"- `{step.tool}({_short(step.args, 110)})` → found {step.found}: {seen}")
    for n, verdict in enumerate(trace.verdicts, start=1):
        mark = "✅ pass" if verdict.passed else "❌ fail"
        reasons = "; ".join(verdict.reasons)
        lines.append(f"\n**Reflection {n}** ({verdict.source}): {mark}{' — ' + reasons if reasons else ''}")
    return "\n".join(lines)


def _labels(ids: Sequence[str], catalog: Catalog) -> list[tuple[str, str]]:
    return [(catalog[i].label, i) for i in ids if i in catalog]


def correction_choices(profile: Profile, catalog: Catalog) -> list[tuple[str, str]]:
    """(label, "field=value") for every profile entry the user may take back with ``Recommender.forget``."""
    choices = [(f"👍 {label}", f"liked_ids={i}") for label, i in _labels(profile.liked_ids, catalog)]
    choices += [(f"👎 {label}", f"disliked_ids={i}") for label, i in _labels(profile.disliked_ids, catalog)]
    choices += [(f"♥ {g}", f"genres={g}") for g in profile.genres]
    choices += [(f"♥ {p}", f"people={p}") for p in profile.people]
    choices += [(f"🚫 {g}", f"exclude_genres={g}") for g in profile.exclude_genres]
    choices += [(f"🚫 {p}", f"exclude_people={p}") for p in profile.exclude_people]
    if profile.year_min or profile.year_max:
        choices.append((f"📅 {profile.year_min or '…'}–{profile.year_max or '…'}", "years="))
    choices += [(f"💬 “{_short(w, 40)}”", f"wishes={w}") for w in profile.wishes]
    return choices


def profile_markdown(profile: Profile, catalog: Catalog) -> str:
    """ "You like: Christopher Nolan, sci-fi · you don't want: horror", in the page's words."""
    liked = [label for label, _ in _labels(profile.liked_ids, catalog)] + profile.people + profile.genres
    unwanted = [label for label, _ in _labels(profile.disliked_ids, catalog)]
    unwanted += profile.exclude_people + profile.exclude_genres
    lines = []
    if liked:
        lines.append("**You like:** " + ", ".join(liked))
    if unwanted:
        lines.append("**You don't want:** " + ", ".join(unwanted))
    if profile.year_min or profile.year_max:
        lines.append(f"**Years:** {profile.year_min or '…'}–{profile.year_max or '…'}")
    if profile.wishes:
        lines.append("**Wishes:** " + "; ".join(f"“{_short(w, 60)}”" for w in profile.wishes[-3:]))
    hidden = len({*profile.rejected_ids, *profile.seen_ids} - {*profile.liked_ids, *profile.disliked_ids})
    if hidden:
        lines.append(f"_{hidden} title{'s' if hidden > 1 else ''} you have seen or turned down won't come up again._")
    return "\n\n".join(lines) or "_Nothing yet: tell me a movie you loved, or what you're in the mood for._"


def settings_markdown(settings: Settings, top_k: int, manifest: Mapping[str, object]) -> str:
    """The start-up settings, read-only: change them with ``crs-agent ui`` options or ``CRS_AGENT_*`` variables."""
    model = settings.llm_model or ("SmolLM2-135M-Instruct, embedded" if settings.llm_backend == "llama_cpp" else "—")
    rows = [
        ("Items per answer", top_k),
        ("LLM backend", settings.llm_backend),
        ("Model", model),
        ("Catalog", f"{manifest.get('source', '?')} ({manifest.get('items', '?')} items)"),
        ("Embeddings", settings.embedding_model),
        ("Data directory", f"`{settings.data_dir}`"),
    ]
    table = "\n".join(f"| {name} | {_esc(value) if name != 'Data directory' else value} |" for name, value in rows)
    return (
        "| Setting | Value |\n|---|---|\n"
        + table
        + "\n\n_Chosen at start-up: `crs-agent ui --items N --backend B --model M` or `CRS_AGENT_*` variables._"
    )


def thread_label(first_message: str, thread_id: str) -> str:
    """A conversation in the list: its opening message, else its id."""
    return _short(first_message, 48) if first_message.strip() else f"Conversation {thread_id}"
