"""Simulated-dialogue evaluation: cases from real dialogues, user simulators, metrics, baselines, reports.

``crs-agent eval`` (:mod:`crs_agent.evals.cli`) runs cases (:mod:`.cases`) x systems (:mod:`.systems`)
under a protocol (:mod:`.protocols`, with the simulators of :mod:`.simulators`) in :mod:`.runner`, saves
transcripts (:mod:`.transcripts`), computes metrics from them (:mod:`.metrics`) and writes the report
(:mod:`.report`). Nothing is imported here, so the CLI stays fast to start.
"""
