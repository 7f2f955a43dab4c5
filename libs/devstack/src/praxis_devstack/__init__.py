"""``praxis-dev``: the whole Praxis stack on one machine (``make run``) and a protocol smoke-runner.

Modules: :mod:`.config` (env vars, paths), :mod:`.ports` (fail fast on busy ports), :mod:`.stack`
(start/supervise/stop NATS, Postgres and the services), :mod:`.try_run` (upload + run + stream events),
:mod:`.cli` (the ``praxis-dev`` command).
"""
