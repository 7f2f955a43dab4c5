#!/usr/bin/env python3
"""Container health check: exit 0 when this container's service answers over HTTP, 1 otherwise.

Services run by servicekit answer ``GET /healthz`` on their metrics port (200 while connected to NATS);
the gateway answers ``GET /metrics`` on its HTTP port (its ``/api/v1/health`` asks every other service,
which is too strict for "is this process alive"). ``PRAXIS_SERVICE`` is set in the image.
"""

from __future__ import annotations

import os
import sys
import urllib.request

PREFIXES = {
    "discovery": "PRAXIS_DISCOVERY_",
    "scheduler": "PRAXIS_SCHEDULER_",
    "executor": "PRAXIS_EXECUTOR_",
    "hardware-agent": "PRAXIS_AGENT_",
}


def health_url(service: str, env: dict[str, str]) -> str:
    if service == "gateway":
        return f"http://127.0.0.1:{env.get('PRAXIS_GATEWAY_PORT', '8000')}/metrics"
    prefix = PREFIXES.get(service, "PRAXIS_")
    return f"http://127.0.0.1:{env.get(prefix + 'METRICS_PORT', '9100')}/healthz"


def main() -> int:
    url = health_url(os.environ.get("PRAXIS_SERVICE", ""), dict(os.environ))
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        sys.stderr.write(f"{url}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
