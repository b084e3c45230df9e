"""Simulated-dialogue evaluation: cases from real dialogues, user simulators, metrics, baselines, reports."""
