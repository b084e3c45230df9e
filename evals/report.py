"""Reports: the stdout table (measured here beside published anchors), report.json, report.md and plots."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from crs_agent.evals.metrics import latencies, summarize
from crs_agent.evals.transcripts import Transcript, TranscriptFile
from crs_agent.knowledge import Knowledge

__all__ = ["PUBLISHED", "format_table", "write_report"]

_IEVALM = "iEvaLM (Wang et al., EMNLP 2023), ReDial"
PUBLISHED: list[dict[str, Any]] = [
    *(
        {"protocol": "replay", "system": name, "recall@1": r1, "recall@10": r10, "source": f"{_IEVALM}, turn-level"}
        for name, r1, r10 in (("KBRD", 0.028, 0.169), ("UniCRS", 0.050, 0.215), ("ChatGPT zero-shot", 0.037, 0.174))
    ),
    {
        "protocol": "attribute",
        "system": "ChatGPT (attribute mode)",
        "recall@1": 0.191,
        "recall@10": 0.536,
        "source": f"{_IEVALM}, attribute-based user",
    },
    {
        "protocol": "attribute",
        "system": "InteRecAgent",
        "hit@5": 0.85,
        "avg_turns@5": 3.15,
        "source": "InteRecAgent (Huang et al., 2023), MovieLens, LLM user",
    },
    {
        "protocol": "llm",
        "system": "InteRecAgent",
        "hit@5": 0.85,
        "avg_turns@5": 3.15,
        "source": "InteRecAgent (Huang et al., 2023), MovieLens, LLM user",
    },
]


def _columns(protocol: str, max_turns: int) -> list[tuple[str, str]]:
    head = [("recall@1", "R@1"), ("recall@10", "R@10"), ("recall@50", "R@50")]
    tail = [
        ("coverage", "cover"),
        ("popularity", "pop"),
        ("faithfulness", "faith"),
        ("latency_p50_ms", "p50 ms"),
        ("latency_p95_ms", "p95 ms"),
        ("tokens_per_turn", "tok/turn"),
    ]
    if protocol == "replay":
        return [*head, *tail]
    middle = [(f"hit@{max_turns}", f"Hit@{max_turns}"), (f"avg_turns@{max_turns}", f"AT@{max_turns}"), ("mrr", "MRR")]
    return [*head, *middle, *tail[:3], ("leak_rate", "leak"), *tail[3:]]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3f}" if value < 10 else f"{value:.2f}"
    return str(value)


def _rows(protocol: str, block: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    max_turns = int(block["settings"]["max_turns"])
    columns = _columns(protocol, max_turns)
    header = ["system", "cases", *(label for _, label in columns), "source"]
    rows = [
        [name, _cell(metrics.get("cases")), *(_cell(metrics.get(key)) for key, _ in columns), "measured here"]
        for name, metrics in block["systems"].items()
    ]
    for anchor in PUBLISHED:
        if anchor["protocol"] == protocol:
            cells = [_cell(anchor.get(key)) for key, _ in columns]
            rows.append([anchor["system"], "-", *cells, f"published: {anchor['source']}"])
    return header, rows


def format_table(report: dict[str, Any], markdown: bool = False) -> str:
    out = []
    for protocol, block in report["protocols"].items():
        s = block["settings"]
        title = f"{protocol} protocol, {s['cases']}, k={s['k']}, max {s['max_turns']} turns, backend {s['backend']}"
        header, rows = _rows(protocol, block)
        if markdown:
            out += [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            out += ["| " + " | ".join(row) + " |" for row in rows]
        else:
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
            out.append(title)
            for row in [header, *rows]:
                cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:-1], widths[1:], strict=True))]
                out.append("  ".join([*cells, row[-1]]))
        out.append("")
    return "\n".join(out)


def _collect(out_dir: Path) -> dict[str, tuple[dict[str, Any], dict[str, list[Transcript]]]]:
    runs = {}
    for run_file in sorted(out_dir.glob("run-*.json")):
        run = json.loads(run_file.read_text(encoding="utf-8"))
        protocol, wanted = run["settings"]["protocol"], set(run["case_ids"])
        by_system = {
            name: [t for t in TranscriptFile(out_dir, protocol, name).load() if t.case_id in wanted]
            for name in run["systems"]
        }
        runs[protocol] = (run, by_system)
    return runs


def write_report(out_dir: Path, knowledge: Knowledge, elapsed_s: float = 0.0, cases: str = "") -> dict[str, Any]:
    """Summarise every run in ``out_dir``; write report.json, report.md and the plots (``plots`` in the
    returned report is their directory, or ``None`` without matplotlib)."""
    runs = _collect(out_dir)
    report: dict[str, Any] = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "last_run_seconds": round(elapsed_s, 1),
        "catalog_items": len(knowledge.catalog),
        "protocols": {
            protocol: {
                "settings": run["settings"],
                "systems": {name: summarize(ts, len(knowledge.catalog)) for name, ts in by_system.items()},
            }
            for protocol, (run, by_system) in runs.items()
        },
        "published": PUBLISHED,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    (out_dir / "report.md").write_text(_markdown(report, cases), encoding="utf-8")
    plots = _plots(out_dir, report, {p: by for p, (_, by) in runs.items()})
    return {**report, "plots": plots}


def _markdown(report: dict[str, Any], cases: str) -> str:
    return "\n".join(
        [
            "# crs-agent evaluation",
            "",
            f"Generated {report['generated']} on a catalog of {report['catalog_items']} items. {cases}",
            "",
            "Rows marked *measured here* ran in this harness; *published* rows are the papers' numbers on their",
            "own data and simulators (context, not a like-for-like comparison). Recall@k is on the last",
            "recommendation list (iEvaLM); Hit@T / AT@T count success within T turns, failures as T+1",
            "(InteRecAgent). Transcripts: `transcripts/*.jsonl`; plots: `plots/*.png`.",
            "",
            format_table(report, markdown=True),
        ]
    )


def _plots(out_dir: Path, report: dict[str, Any], transcripts: dict[str, dict[str, list[Transcript]]]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    directory = out_dir / "plots"
    directory.mkdir(exist_ok=True)
    for protocol, block in report["protocols"].items():
        max_turns = int(block["settings"]["max_turns"])
        if protocol != "replay":
            fig, ax = plt.subplots(figsize=(6, 4))
            for name, metrics in block["systems"].items():
                curve = [metrics.get(f"hit@{t}") or 0.0 for t in range(1, max_turns + 1)]
                ax.plot(range(1, max_turns + 1), curve, marker="o", label=name)
            ax.set(xlabel="turns", ylabel=f"success (target in top {block['settings']['k']})", ylim=(0, 1))
            ax.set_xticks(range(1, max_turns + 1))
            ax.set_title(f"Success vs turn ({protocol})")
            ax.legend(fontsize=8)
            fig.tight_layout()
            fig.savefig(directory / f"{protocol}-success.png", dpi=110)
            plt.close(fig)
        fig, ax = plt.subplots(figsize=(6, 4))
        values = {name: [ms for t in ts for ms in latencies(t) if ms > 0] for name, ts in transcripts[protocol].items()}
        everything = [ms for v in values.values() for ms in v] or [1.0]
        bins = np.geomspace(min(everything), max(everything) * 1.01, 40)  # baselines take 1 ms, agents 100s
        for name, ms in values.items():
            if ms:
                ax.hist(ms, bins=bins, alpha=0.5, label=name)
        ax.set_xscale("log")
        ax.set(xlabel="latency per turn (ms, log scale)", ylabel="turns", title=f"Latency per turn ({protocol})")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(directory / f"{protocol}-latency.png", dpi=110)
        plt.close(fig)
    return str(directory)
