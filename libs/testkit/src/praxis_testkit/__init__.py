"""Test helpers for Praxis: real nats-server/Postgres fixtures, ``wait_for``, service subprocesses.

Import submodules directly (``praxis_testkit.servers``, ``.waiting``, ``.services``, ``.databases``);
the pytest fixtures live in ``praxis_testkit.plugin``.
"""
