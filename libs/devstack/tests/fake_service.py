"""A stand-in for every ``praxis-<svc>`` console script, for the devstack tests.

Invoked as ``<bin>/praxis-<svc> migrate|serve ...`` (a symlink-free copy per name, see conftest).
``FAKE_FAIL`` = ``<svc>-migrate`` or ``<svc>-serve`` makes that step fail. ``FAKE_CHILD`` = ``<svc>``
makes that service fork a long-sleeping child into its process group, as the executor forks run
workers. ``praxis-gateway serve`` runs a tiny FastAPI app implementing the gateway contract
``praxis-dev`` relies on: health, protocol upload, run submission and the run's event WebSocket.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def gateway(port: int) -> None:
    # No `from __future__ import annotations` in this file: FastAPI must see real annotation objects.
    import uvicorn
    from fastapi import FastAPI, UploadFile, WebSocket

    app = FastAPI()
    runs: dict[str, dict[str, Any]] = {}

    @app.get("/api/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/protocols", status_code=201)
    async def upload(file: UploadFile) -> dict[str, str]:
        content = await file.read()
        assert b"def " in content
        return {"id": f"proto-{file.filename}"}

    @app.post("/api/v1/runs", status_code=202)
    async def submit(body: dict[str, Any]) -> dict[str, str]:
        run_id = f"run-{len(runs) + 1}"
        runs[run_id] = body
        return {"id": run_id, "status": "queued"}

    @app.get("/api/v1/runs/{run_id}")
    async def get_run(run_id: str) -> dict[str, str]:
        return {"id": run_id, "status": "running"}

    @app.websocket("/api/v1/runs/{run_id}/events")
    async def events(ws: WebSocket, run_id: str) -> None:
        await ws.accept()
        body = runs[run_id]
        final = "failed" if body["parameters"].get("fail") else "completed"
        assert body["simulate"] is True
        await ws.send_json({"type": "RunStatusChanged", "run_id": run_id, "seq": 1, "status": "running"})
        step = {"type": "StepCompleted", "run_id": run_id, "seq": 2, "step": 1, "params": body["parameters"]}
        await ws.send_json(step)
        await ws.send_json({"type": "RunFinished", "run_id": run_id, "seq": 3, "status": final})
        await ws.receive_text()  # the client hangs up

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main() -> int:
    svc = Path(sys.argv[0]).name.removeprefix("praxis-")
    action = sys.argv[1]
    print(f"{svc} {action} {sys.argv[2:]} nats={os.environ['PRAXIS_NATS_URL']} db={os.environ['PRAXIS_DATABASE_URL']}")
    if os.environ.get("FAKE_FAIL") == f"{svc}-{action}":
        print(f"{svc}: simulated failure", flush=True)
        return 3
    if action == "migrate":
        return 0
    if svc == "gateway":
        gateway(int(os.environ["PRAXIS_GATEWAY_PORT"]))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if os.environ.get("FAKE_CHILD") == svc:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(f"child {child.pid}", flush=True)
    print("serving", flush=True)
    while True:
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
