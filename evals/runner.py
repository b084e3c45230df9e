"""The runner: cases x systems under one protocol, in parallel processes, resumable, then the report.

Every (system, case) pair runs in a fresh conversation of a fresh user, so the order and the number of
workers do not change any result. Finished pairs are appended to ``DIR/transcripts/`` as they come in;
a re-run with the same settings skips them. ``DIR/run-<protocol>.json`` pins the settings a directory's
transcripts were made with.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from crs_agent.evals.cases import Case, CaseFileError, cases_from_file, eval_data
from crs_agent.evals.ievalm import run_ievalm
from crs_agent.evals.protocols import PROTOCOLS, SIMULATED, run_replay, run_simulated
from crs_agent.evals.systems import Session, System, make_system, system_error
from crs_agent.evals.transcripts import Transcript, TranscriptFile, Turn
from crs_agent.knowledge import CrsAgentError, Knowledge, Settings

__all__ = ["EvalConfig", "EvalSettingsError", "run_eval", "select_cases"]


class EvalSettingsError(CrsAgentError):
    """The output directory holds a run made with other settings."""


@dataclass(frozen=True)
class EvalConfig:
    cases: Path
    protocol: str = "ievalm"
    systems: tuple[str, ...] = ("agent", "tools", "popularity", "embedding", "itemcf")
    backend: str = "rules"
    sim_backend: str = "llama_cpp"
    max_turns: int = 5
    k: int = 10
    limit: int | None = None
    seed: int = 0
    workers: int = 1
    known_history: bool = False  # hints/llm: tell the system the seeker's earlier movies first (not a cold start)
    out: Path = Path("eval-out")
    settings: dict[str, Any] = field(default_factory=dict)  # Settings overrides (data_dir, catalog)

    def pinned(self) -> dict[str, Any]:
        """What must not change between a run and its resumption."""
        return {
            "protocol": self.protocol,
            "cases": str(Path(self.cases).resolve()),
            "k": self.k,
            "max_turns": self.max_turns,
            "known_history": self.known_history if self.protocol in SIMULATED else None,
            "seed": self.seed,
            "backend": self.backend,
            "sim_backend": self.sim_backend if self.protocol == "llm" else None,
        }


def select_cases(cases: list[Case], limit: int | None, seed: int) -> list[Case]:
    """``limit`` cases drawn with ``seed`` (a smaller limit picks a subset of a larger one), in file order."""
    if not limit or limit >= len(cases):
        return cases
    order = list(range(len(cases)))
    random.Random(seed).shuffle(order)
    return [cases[n] for n in sorted(order[:limit])]


# -- one process's work ---------------------------------------------------------------------------
class _Worker:
    def __init__(self, config: EvalConfig, knowledge: Knowledge | None = None) -> None:
        _one_thread()
        self.config = config
        self.settings = Settings(**config.settings)
        self.knowledge = _isolated(knowledge or _load(self.settings))
        self.systems: dict[str, System] = {}
        self.simulator: Any = None

    def system(self, name: str) -> System:
        if name not in self.systems:
            from crs_agent.agent.llm import make_chat_model

            llm = make_chat_model(self.settings.model_copy(update={"llm_backend": self.config.backend}))
            self.systems[name] = make_system(name, self.knowledge, llm, self.config.k)
        return self.systems[name]

    def user_simulator(self) -> Any:
        if self.simulator is None:
            from crs_agent.evals.simulators import HintsSimulator, LlmSimulator

            if self.config.protocol == "llm":
                from crs_agent.agent.llm import make_chat_model

                model = make_chat_model(self.settings.model_copy(update={"llm_backend": self.config.sim_backend}))
                if model is None:
                    raise EvalSettingsError('The llm protocol needs a model: --sim-backend cannot be "rules".')
                self.simulator = LlmSimulator(self.knowledge, model)
            else:
                self.simulator = HintsSimulator(self.knowledge)
        return self.simulator

    def run(self, system_name: str, case: Case) -> Transcript:
        """One case. Whatever fails in it (a typed error included) is recorded in the transcript and the case
        runs again on resumption; it never ends the run."""
        config = self.config
        turns: list[Turn] = []
        error = None
        try:
            session = self.system(system_name).session(case.id, interactive=config.protocol != "replay")
            try:
                turns = self._turns(session, case)
            finally:
                session.close()
        except Exception as err:  # noqa: BLE001 - one broken case must not end a long run: recorded, re-run on resume
            if os.environ.get("CRS_AGENT_DEBUG") == "1":
                raise
            turns, error = [], f"{type(err).__name__}: {err}"
        titles = [self.knowledge.catalog[t].label for t in case.targets if t in self.knowledge.catalog]
        return Transcript(
            case_id=case.id,
            system=system_name,
            protocol=config.protocol,
            k=config.k,
            max_turns=config.max_turns,
            targets=case.targets,
            target_titles=titles,
            turns=turns,
            error=error,
        )

    def _turns(self, session: Session, case: Case) -> list[Turn]:
        config = self.config
        if config.protocol == "replay":
            return run_replay(case, session)
        if config.protocol == "ievalm":
            return run_ievalm(case, session, self.knowledge.catalog, config.max_turns)
        user = self.user_simulator().start(case, config.seed)
        return run_simulated(case, session, user, config.k, config.max_turns, config.known_history)


def _one_thread() -> None:
    """One torch thread per worker: parallelism comes from --workers, and on a busy machine a second
    thread per process makes single-text embeddings several times slower, not faster."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    else:  # read when torch is first imported (only if an embedding model is used at all)
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def _load(settings: Settings) -> Knowledge:
    from crs_agent.knowledge import ensure_index

    return ensure_index(settings, progress=False, say=lambda _: None)


def _isolated(knowledge: Knowledge) -> Knowledge:
    """The same knowledge with a throw-away in-memory user memory: evaluation users never touch real ones."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from crs_agent.knowledge import MemoryStore

    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True))
    return replace(knowledge, memory=MemoryStore(client, knowledge.embedder))


_WORKER: _Worker | None = None


def _init_worker(config: EvalConfig, knowledge: Knowledge | None = None) -> None:
    global _WORKER
    _WORKER = _Worker(config, knowledge)


def _run_task(system_name: str, case_json: str) -> str:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.run(system_name, Case.model_validate_json(case_json)).model_dump_json()


# -- the run --------------------------------------------------------------------------------------
def _pin(config: EvalConfig, case_ids: list[str]) -> None:
    path = config.out / f"run-{config.protocol}.json"
    pinned = config.pinned()
    previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    if previous and previous["settings"] != pinned:
        was = previous["settings"]
        changed = ", ".join(f"{k} was {was.get(k)!r}" for k in pinned if was.get(k) != pinned[k])
        raise EvalSettingsError(
            f"{config.out} holds a {config.protocol} run with other settings ({changed}): "
            "use another --out, or delete it to start again."
        )
    systems = list(dict.fromkeys([*(previous or {}).get("systems", []), *config.systems]))
    config.out.mkdir(parents=True, exist_ok=True)
    record = {"settings": pinned, "systems": systems, "case_ids": case_ids}
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")


def run_eval(config: EvalConfig, progress: bool = True) -> dict[str, Any]:
    """Run what is not finished yet, then write and return the report of ``config.out``."""
    from crs_agent.evals.report import write_report

    if config.protocol not in PROTOCOLS:
        raise EvalSettingsError(f"Unknown protocol {config.protocol!r}: use {', '.join(PROTOCOLS)}.")
    errors = [e for e in map(system_error, config.systems) if e]
    if errors:
        raise EvalSettingsError("; ".join(errors) + ".")
    if config.protocol == "llm" and config.sim_backend == "rules":
        raise EvalSettingsError('The llm protocol needs a model: --sim-backend cannot be "rules".')
    started = time.perf_counter()
    knowledge = _load(Settings(**config.settings))
    conversion = cases_from_file(config.cases, knowledge.catalog)
    cases = select_cases(conversion.cases, config.limit, config.seed)
    if config.protocol == "replay":
        cases = [c for c in cases if any(u.scored for u in c.dialogue)]
    if config.protocol == "ievalm" and conversion.format != "ievalm":
        raise CaseFileError(
            f"The ievalm protocol takes iEvaLM turn files (context, rec), not {conversion.format} "
            f"({config.cases}): e.g. {eval_data('test_dev_turns.jsonl')}."
        )
    if not cases:
        raise CaseFileError(f"No usable cases in {config.cases} for the {config.protocol} protocol.")
    _pin(config, [c.id for c in cases])
    files = {name: TranscriptFile(config.out, config.protocol, name) for name in config.systems}
    done = {name: f.finished() for name, f in files.items()}
    tasks = [(name, case) for case in cases for name in config.systems if case.id not in done[name]]
    bar = tqdm(total=len(tasks), desc=f"eval {config.protocol}", unit="case", disable=not progress)
    for transcript in _execute(config, tasks, knowledge):
        files[transcript.system].append(transcript)
        bar.update(1)
    bar.close()
    return write_report(config.out, knowledge, elapsed_s=time.perf_counter() - started, cases=conversion.summary())


def _execute(config: EvalConfig, tasks: list[tuple[str, Case]], knowledge: Knowledge) -> Iterator[Transcript]:
    if not tasks:
        return
    if config.workers <= 1:
        _init_worker(config, knowledge)
        for name, case in tasks:
            yield Transcript.model_validate_json(_run_task(name, case.model_dump_json()))
        return
    with ProcessPoolExecutor(
        max_workers=config.workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(config,)
    ) as pool:
        futures = [pool.submit(_run_task, name, case.model_dump_json()) for name, case in tasks]
        for future in as_completed(futures):
            yield Transcript.model_validate_json(future.result())
