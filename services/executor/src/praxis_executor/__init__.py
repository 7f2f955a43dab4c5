"""Runs: state machine, worker subprocesses, machine-call journal."""
