"""Runs: the state machine, one worker subprocess per run, the machine-call journal, outputs and control."""

__version__ = "0.1.0"
