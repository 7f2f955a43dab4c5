"""Praxis Grafana dashboards as code: writes ``deploy/grafana/dashboards/*.json``.

    python deploy/grafana/build_dashboards.py           # regenerate the JSON files
    python deploy/grafana/build_dashboards.py --check   # exit 1 if a committed file differs from the code

Standard library only. Edit the panels here, regenerate, and commit both this file and the JSON.
Every panel queries the datasource chosen by the ``datasource`` variable, so the dashboards work in any Grafana.

Metrics marked ASSUMED are not exported yet; their panels stay empty ("No data") until they are:
``praxis_runs_total{status}`` (executor), ``praxis_bench_last_heartbeat_seconds{bench_id}`` (scheduler),
``praxis_machine_calls_total{bench_id,machine,method,outcome}`` and ``praxis_machine_call_seconds`` (agent),
``praxis_outbox_pending{service}`` (servicekit outbox relay).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
WIDTH = 24

Panel = dict[str, Any]


# ------------------------------------------------------------------------------------------- building blocks


def target(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        t.update(instant=True, range=False)
    else:
        t.update(instant=False, range=True)
    if table:
        t["format"] = "table"
    return t


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


def timeseries(
    title: str,
    targets: list[dict[str, Any]],
    *,
    unit: str = "short",
    description: str = "",
    bars: bool = False,
    w: int = 12,
    h: int = 8,
) -> Panel:
    custom: dict[str, Any] = {"lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": True}
    if bars:
        custom.update(drawStyle="bars", fillOpacity=80, stacking={"mode": "normal", "group": "A"})
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "_w": w,
        "_h": h,
    }


def stat(
    title: str,
    targets: list[dict[str, Any]],
    *,
    unit: str = "short",
    description: str = "",
    steps: dict[str, Any] | None = None,
    mappings: list[dict[str, Any]] | None = None,
    w: int = 6,
    h: int = 4,
) -> Panel:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "thresholds": steps or thresholds((None, "green")),
                "mappings": mappings or [],
                "color": {"mode": "thresholds"},
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
            "justifyMode": "auto",
            "orientation": "auto",
        },
        "_w": w,
        "_h": h,
    }


def bargauge(
    title: str, targets: list[dict[str, Any]], *, unit: str, steps: dict[str, Any], description: str = "", w: int = 12
) -> Panel:
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": steps, "color": {"mode": "thresholds"}, "min": 0},
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal",
            "displayMode": "gradient",
            "showUnfilled": True,
        },
        "_w": w,
        "_h": 8,
    }


def table(title: str, targets: list[dict[str, Any]], *, description: str = "", w: int = 12, h: int = 8) -> Panel:
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"showHeader": True, "cellHeight": "sm"},
        "transformations": [
            {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": {"Value": "value"}}}
        ],
        "_w": w,
        "_h": h,
    }


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_w": WIDTH, "_h": 1}


def query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


DATASOURCE_VARIABLE = {
    "type": "datasource",
    "name": "datasource",
    "label": "Data source",
    "query": "prometheus",
    "current": {},
    "hide": 0,
}


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel] = field(default_factory=list)
    variables: list[dict[str, Any]] = field(default_factory=list)

    def add(self, *panels: Panel) -> None:
        self.panels.extend(panels)

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["praxis"],
            "timezone": "browser",
            "editable": False,
            "graphTooltip": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "schemaVersion": 39,
            "version": 1,
            "templating": {"list": [DATASOURCE_VARIABLE, *self.variables]},
            "annotations": {"list": []},
            "links": [
                {"type": "dashboards", "tags": ["praxis"], "title": "Praxis", "asDropdown": True, "includeVars": False}
            ],
            "panels": layout(self.panels),
        }


def layout(panels: list[Panel]) -> list[Panel]:
    """Place panels left to right in a 24-column grid, wrapping lines; assign ids and refIds."""
    placed: list[Panel] = []
    x = y = line_h = 0
    for pid, panel in enumerate(panels, start=1):
        p = {k: v for k, v in panel.items() if not k.startswith("_")}
        w, h = panel["_w"], panel["_h"]
        if p["type"] == "row" or x + w > WIDTH:
            x, y, line_h = 0, y + line_h, 0
        p["id"] = pid
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        for i, t in enumerate(p.get("targets", [])):
            t["refId"] = chr(ord("A") + i)
        placed.append(p)
        x, line_h = x + w, max(line_h, h)
        if p["type"] == "row":
            x, y, line_h = 0, y + h, 0
    return placed


# ---------------------------------------------------------------------------------------------- dashboards

SVC = 'service=~"$service"'
UP_MAPPING = [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red"}}}]


def overview() -> Dashboard:
    d = Dashboard(
        uid="praxis-overview",
        title="Praxis overview",
        description="Services, messaging, queries, dead letters, outbox, JetStream and the gateway.",
        variables=[query_variable("service", "Service", "label_values(praxis_messages_total, service)")],
    )
    d.add(
        row("Services"),
        stat(
            "Instances up (by job)",
            [target('sum by (job) (up{job=~"praxis-.+|nats"})', "{{job}}")],
            description="Scrape targets answering /metrics. 0 = every instance of that job is down.",
            steps=thresholds((None, "red"), (1, "green")),
            mappings=UP_MAPPING,
            w=16,
        ),
        table(
            "Running versions",
            [target("count by (service, version) (praxis_service_up == 1)", instant=True, table=True)],
            description="Instances per service and version (two versions of one service = a rollout in progress).",
            w=8,
            h=4,
        ),
        row("Messages"),
        timeseries(
            "Messages handled by outcome",
            [target(f"sum by (outcome) (rate(praxis_messages_total{{{SVC}}}[{RATE}]))", "{{outcome}}")],
            unit="ops",
            description="ok, duplicate (inbox hit), retried (nak with delay), dead_lettered, invalid.",
        ),
        timeseries(
            "Messages handled by service",
            [target(f"sum by (service) (rate(praxis_messages_total{{{SVC}}}[{RATE}]))", "{{service}}")],
            unit="ops",
        ),
        timeseries(
            "Handler latency p50 / p99 by service",
            [
                target(
                    f"histogram_quantile(0.5, sum by (service, le) (rate(praxis_handler_seconds_bucket{{{SVC}}}[{RATE}])))",
                    "{{service}} p50",
                ),
                target(
                    f"histogram_quantile(0.99, sum by (service, le) (rate(praxis_handler_seconds_bucket{{{SVC}}}[{RATE}])))",
                    "{{service}} p99",
                ),
            ],
            unit="s",
        ),
        timeseries(
            "Slowest subjects (handler p99, top 10)",
            [
                target(
                    "topk(10, histogram_quantile(0.99, sum by (service, subject, le) "
                    f"(rate(praxis_handler_seconds_bucket{{{SVC}}}[{RATE}]))))",
                    "{{service}} {{subject}}",
                )
            ],
            unit="s",
        ),
        row("Queries (request/reply)"),
        timeseries(
            "Queries answered by service and outcome",
            [
                target(
                    f"sum by (service, outcome) (rate(praxis_queries_total{{{SVC}}}[{RATE}]))",
                    "{{service}} {{outcome}}",
                )
            ],
            unit="ops",
        ),
        timeseries(
            "Query error ratio",
            [
                target(
                    f'sum by (service) (rate(praxis_queries_total{{outcome="error",{SVC}}}[{RATE}]))'
                    f" / sum by (service) (rate(praxis_queries_total{{{SVC}}}[{RATE}]))",
                    "{{service}}",
                )
            ],
            unit="percentunit",
        ),
        row("Dead letters and outbox"),
        stat(
            "Dead letters in the time range",
            [target(f"sum by (service) (increase(praxis_dead_letters_total{{{SVC}}}[$__range]))", "{{service}}")],
            description="Messages each service sent to praxis.dlq.<service>. Read them: nats stream view PRAXIS_DLQ",
            steps=thresholds((None, "green"), (1, "red")),
            w=8,
        ),
        stat(
            "Letters held in PRAXIS_DLQ",
            [target('sum(jetstream_stream_total_messages{stream_name="PRAXIS_DLQ"})', "PRAXIS_DLQ")],
            description="From prometheus-nats-exporter; letters expire after 30 days.",
            steps=thresholds((None, "green"), (1, "orange")),
            w=4,
        ),
        stat(
            "Outbox rows waiting (ASSUMED metric)",
            [target("max by (service) (praxis_outbox_pending)", "{{service}}")],
            description="Needs praxis_outbox_pending{service} (unpublished outbox rows) from the outbox relay.",
            steps=thresholds((None, "green"), (100, "orange"), (1000, "red")),
            w=12,
        ),
        timeseries(
            "Dead letters by service and subject",
            [
                target(
                    f"sum by (service, subject) (increase(praxis_dead_letters_total{{{SVC}}}[{RATE}]))",
                    "{{service}} {{subject}}",
                )
            ],
            bars=True,
        ),
        timeseries(
            "Outbox publish rate",
            [target(f"sum by (service) (rate(praxis_outbox_published_total{{{SVC}}}[{RATE}]))", "{{service}}")],
            unit="ops",
            description="Events relayed from each service's outbox table to JetStream.",
        ),
        row("NATS JetStream"),
        timeseries(
            "Consumer backlog (messages not yet delivered)",
            [
                target(
                    'max by (stream_name, consumer_name) (jetstream_consumer_num_pending{stream_name=~"PRAXIS_.+"})',
                    "{{consumer_name}}",
                )
            ],
            w=8,
        ),
        timeseries(
            "Consumer ack pending",
            [
                target(
                    'max by (stream_name, consumer_name) (jetstream_consumer_num_ack_pending{stream_name=~"PRAXIS_.+"})',
                    "{{consumer_name}}",
                )
            ],
            w=8,
        ),
        timeseries(
            "Messages stored per stream",
            [
                target(
                    'max by (stream_name) (jetstream_stream_total_messages{stream_name=~"PRAXIS_.+"})',
                    "{{stream_name}}",
                )
            ],
            w=8,
        ),
        row("Gateway HTTP"),
        timeseries(
            "Requests by status",
            [target(f"sum by (status) (rate(praxis_gateway_requests_total[{RATE}]))", "{{status}}")],
            unit="reqps",
            w=10,
        ),
        timeseries(
            "Request latency p99 by route",
            [
                target(
                    f"histogram_quantile(0.99, sum by (route, le) (rate(praxis_gateway_request_seconds_bucket[{RATE}])))",
                    "{{route}}",
                )
            ],
            unit="s",
            w=10,
        ),
        stat(
            "Open WebSockets",
            [target("sum(praxis_gateway_websockets)", "websockets")],
            w=4,
            h=8,
        ),
    )
    return d


BENCH = 'bench_id=~"$bench_id"'


def runs_and_benches() -> Dashboard:
    d = Dashboard(
        uid="praxis-runs-benches",
        title="Runs & benches",
        description="Run outcomes (executor), bench heartbeats (scheduler) and machine calls (hardware agents).",
        variables=[query_variable("bench_id", "Bench", "label_values(praxis_bench_last_heartbeat_seconds, bench_id)")],
    )
    d.add(
        row("Runs (ASSUMED metric praxis_runs_total{status}, from the executor)"),
        stat(
            "Runs by status in the time range",
            [target("sum by (status) (increase(praxis_runs_total[$__range]))", "{{status}}")],
            description="Runs that entered each status (completed, failed, cancelled, needs_operator, ...).",
            w=16,
        ),
        stat(
            "Failed share of finished runs",
            [
                target(
                    'sum(increase(praxis_runs_total{status="failed"}[$__range]))'
                    ' / sum(increase(praxis_runs_total{status=~"completed|failed|cancelled"}[$__range]))',
                    "failed",
                )
            ],
            unit="percentunit",
            steps=thresholds((None, "green"), (0.05, "orange"), (0.2, "red")),
            w=8,
        ),
        timeseries(
            "Runs per hour by status",
            [target("sum by (status) (increase(praxis_runs_total[1h]))", "{{status}}")],
            w=24,
        ),
        row("Benches"),
        bargauge(
            "Heartbeat age (ASSUMED metric, from the scheduler)",
            [
                target(
                    f"time() - max by (bench_id) (praxis_bench_last_heartbeat_seconds{{{BENCH}}})",
                    "{{bench_id}}",
                    instant=True,
                )
            ],
            unit="s",
            steps=thresholds((None, "green"), (6, "orange"), (30, "red")),
            description="Seconds since the scheduler last saw each bench's heartbeat (agents send one every 2 s).",
        ),
        stat(
            "Hardware agents up",
            [target('sum by (service) (praxis_service_up{service=~"hardware-agent-.+"})', "{{service}}")],
            description="Agents Prometheus scrapes (an agent on a bench PC must be added as a scrape target).",
            steps=thresholds((None, "red"), (1, "green")),
            mappings=UP_MAPPING,
            w=12,
            h=8,
        ),
        timeseries(
            "Heartbeat age over time",
            [target(f"time() - max by (bench_id) (praxis_bench_last_heartbeat_seconds{{{BENCH}}})", "{{bench_id}}")],
            unit="s",
            w=24,
        ),
        row("Machine calls (ASSUMED metrics praxis_machine_calls_total / praxis_machine_call_seconds, from the agent)"),
        timeseries(
            "Machine calls by machine and outcome",
            [
                target(
                    f"sum by (bench_id, machine, outcome) (rate(praxis_machine_calls_total{{{BENCH}}}[{RATE}]))",
                    "{{bench_id}}/{{machine}} {{outcome}}",
                )
            ],
            unit="ops",
        ),
        timeseries(
            "Machine call latency p50 / p99 by machine",
            [
                target(
                    "histogram_quantile(0.5, sum by (bench_id, machine, le) "
                    f"(rate(praxis_machine_call_seconds_bucket{{{BENCH}}}[{RATE}])))",
                    "{{bench_id}}/{{machine}} p50",
                ),
                target(
                    "histogram_quantile(0.99, sum by (bench_id, machine, le) "
                    f"(rate(praxis_machine_call_seconds_bucket{{{BENCH}}}[{RATE}])))",
                    "{{bench_id}}/{{machine}} p99",
                ),
            ],
            unit="s",
        ),
        timeseries(
            "Failed machine calls by method",
            [
                target(
                    f'sum by (bench_id, machine, method) (rate(praxis_machine_calls_total{{outcome!="ok",{BENCH}}}[{RATE}]))',
                    "{{bench_id}}/{{machine}}.{{method}}",
                )
            ],
            unit="ops",
        ),
        table(
            "Most called methods in the time range",
            [
                target(
                    "topk(15, sum by (bench_id, machine, method) "
                    f"(increase(praxis_machine_calls_total{{{BENCH}}}[$__range])))",
                    instant=True,
                    table=True,
                )
            ],
        ),
    )
    return d


DASHBOARDS = {"praxis-overview.json": overview, "praxis-runs-benches.json": runs_and_benches}


def render() -> dict[str, str]:
    return {name: json.dumps(build().to_json(), indent=2, sort_keys=True) + "\n" for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed JSON differs from the code")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = OUT_DIR / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        else:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        sys.stderr.write(f"out of date: {', '.join(stale)}; run python deploy/grafana/build_dashboards.py\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
