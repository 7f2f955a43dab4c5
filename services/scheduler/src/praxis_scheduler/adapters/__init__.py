"""Postgres adapters of the scheduler: the only modules that speak SQL."""
