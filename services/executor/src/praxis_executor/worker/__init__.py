"""The run worker: one process per run that executes the user's protocol against proxy backends.

PLR's frontends and their tip/volume trackers live here; every backend call becomes a ``MachineCall`` to the
bench's hardware agent (:mod:`.proxy`, :mod:`.dispatch`). :func:`.runner.run_protocol` is the whole run;
``python -m praxis_executor.worker job.json`` wraps it in a JSON-lines process protocol (:mod:`.__main__`).
"""
