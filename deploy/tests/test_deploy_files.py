"""Cheap structural checks of the deployment artefacts: they parse, and they agree with each other.

No Docker, Kubernetes or Prometheus is needed; these only read files. (``kubectl kustomize``, ``promtool``
and ``kubeconform`` checks are for CI images that have those tools.)
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1]
ROOT = DEPLOY.parent
SERVICES = ("discovery", "scheduler", "executor", "gateway", "hardware-agent")
SCHEMA_OWNERS = ("discovery", "scheduler", "executor", "gateway")
JOBS = {f"praxis-{s}" for s in SERVICES} | {"nats"}


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def own_yaml_files() -> list[Path]:
    return sorted(
        p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"} and "benches" not in p.relative_to(DEPLOY).parts
    )


def build_dashboards() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_dashboards", DEPLOY / "grafana" / "build_dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", own_yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    assert load_all(path), f"{path} is empty"


# ---------------------------------------------------------------------------------------------------- compose


def test_compose_wires_every_service_with_a_healthcheck_and_its_migration() -> None:
    compose = load_all(DEPLOY / "compose" / "compose.yaml")[0]
    services = compose["services"]
    for svc in SERVICES:
        spec = services[svc]
        assert spec["build"]["args"]["SERVICE"] == svc
        assert spec["build"]["dockerfile"] == "deploy/docker/Dockerfile"
        assert spec["healthcheck"]["test"] == ["CMD", "praxis-healthcheck"]
        assert spec["depends_on"]["nats"]["condition"] == "service_healthy"
    for svc in SCHEMA_OWNERS:
        migrate = services[f"{svc}-migrate"]
        assert migrate["command"] == ["migrate"]
        assert migrate["image"] == services[svc]["image"]
        assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[svc]["depends_on"][f"{svc}-migrate"]["condition"] == "service_completed_successfully"
    for name, spec in services.items():  # every host path it mounts exists
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / "compose" / source).resolve().exists(), f"{name}: {source}"


# ------------------------------------------------------------------------------------------------- prometheus


def test_prometheus_jobs_are_the_ones_alerts_and_dashboards_use() -> None:
    config = load_all(DEPLOY / "prometheus" / "prometheus.yml")[0]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs >= JOBS
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_every_alert_is_complete_and_its_runbook_section_exists() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in (ROOT / "docs" / "operations.md").read_text().splitlines()
        if line.startswith("#")
    }
    rules = [rule for group in load_all(DEPLOY / "prometheus" / "alerts.yml")[0]["groups"] for rule in group["rules"]]
    assert len(rules) >= 10
    for rule in rules:
        assert rule["expr"].strip() and rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"]
        runbook = rule["annotations"]["runbook"]
        assert runbook.startswith("docs/operations.md#")
        assert runbook.split("#", 1)[1] in anchors, f"{rule['alert']}: no section for {runbook}"


# ---------------------------------------------------------------------------------------------------- grafana


def test_dashboards_are_generated_from_the_code() -> None:
    assert build_dashboards().main(["--check"]) == 0, "run python deploy/grafana/build_dashboards.py"


@pytest.mark.parametrize("name", ["praxis-overview.json", "praxis-runs-benches.json"])
def test_dashboard_json_is_consistent(name: str) -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / name).read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}" and target["expr"]


def test_grafana_provisioning_points_at_the_mounted_dashboards() -> None:
    provider = load_all(DEPLOY / "grafana" / "provisioning" / "dashboards" / "praxis.yaml")[0]["providers"][0]
    compose = load_all(DEPLOY / "compose" / "compose.yaml")[0]
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"../grafana/dashboards:{provider['options']['path']}:ro" in mounts


# ------------------------------------------------------------------------------------------------- kubernetes


def kustomization_resources(directory: Path) -> list[dict[str, Any]]:
    kustomization = load_all(directory / "kustomization.yaml")[0]
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        target = (directory / resource).resolve()
        docs += kustomization_resources(target) if target.is_dir() else load_all(target)
    for generator in kustomization.get("configMapGenerator", []):
        for entry in generator.get("files", []):
            assert (directory / entry.split("=", 1)[-1]).resolve().is_file(), entry
    return docs


EXECUTOR_CAPABILITIES = {"CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETUID", "SETGID"}
"""What the executor keeps of root: enough to start each run's worker as praxis-worker, nothing more."""


def assert_runs_as_intended(workload: dict[str, Any]) -> None:
    """Non-root everywhere, except the executor: root with only the worker sandbox's capabilities."""
    name, pod = workload["metadata"]["name"], workload["spec"]["template"]["spec"]
    if (workload["kind"], name) != ("Deployment", "executor"):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        return
    assert pod["securityContext"]["runAsUser"] == 0
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        assert set(context["capabilities"]["add"]) == EXECUTOR_CAPABILITIES


@pytest.mark.parametrize("overlay", ["base", "overlays/demo"])
def test_kubernetes_workloads_have_probes_limits_and_run_as_intended(overlay: str) -> None:
    docs = kustomization_resources(DEPLOY / "k8s" / overlay)
    workloads = [d for d in docs if d["kind"] in {"Deployment", "StatefulSet", "Job"}]
    assert workloads
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert_runs_as_intended(workload)
        for container in pod["containers"]:
            assert container["resources"]["limits"] and container["resources"]["requests"]
            if workload["kind"] == "Deployment":
                assert {"livenessProbe", "readinessProbe"} <= container.keys(), workload["metadata"]["name"]


def test_the_executor_runs_as_root_with_the_same_capabilities_everywhere() -> None:
    compose = load_all(DEPLOY / "compose" / "compose.yaml")[0]["services"]["executor"]
    assert compose["user"] == "0:0" and compose["cap_drop"] == ["ALL"]
    assert set(compose["cap_add"]) == EXECUTOR_CAPABILITIES
    assert "no-new-privileges:true" in compose["security_opt"]
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert "useradd --system --uid 10002" in dockerfile and "PRAXIS_EXECUTOR_SANDBOX_UID=10002" in dockerfile


def test_kubernetes_base_has_a_deployment_and_a_migration_job_per_service() -> None:
    docs = kustomization_resources(DEPLOY / "k8s" / "base")
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for svc in SCHEMA_OWNERS:
        assert ("Deployment", svc) in names and ("Job", f"{svc}-migrate") in names
    assert ("StatefulSet", "nats") in names
    for d in docs:
        if d["kind"] == "Deployment":
            annotations = d["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true"
            assert d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] in JOBS


def test_healthcheck_urls() -> None:
    spec = importlib.util.spec_from_file_location("healthcheck", DEPLOY / "docker" / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.health_url("gateway", {}) == "http://127.0.0.1:8000/metrics"
    assert module.health_url("scheduler", {"PRAXIS_SCHEDULER_METRICS_PORT": "9200"}) == "http://127.0.0.1:9200/healthz"
    assert module.health_url("hardware-agent", {}) == "http://127.0.0.1:9100/healthz"
