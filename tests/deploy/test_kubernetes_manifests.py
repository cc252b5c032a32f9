"""The Kubernetes manifests (deploy/kubernetes): the base and each overlay render with
`kubectl kustomize` and validate offline, strictly, against the Kubernetes schemas
(kubernetes-validate, a dev dependency); what the deployment relies on is checked in the rendered
objects: non-root pods, probes on /health, resources, the advisory-lock migrate Job, the workers'
autoscaler and disruption budgets, one pod with no Docker for the embedded overlay."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import service_unavailable

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZATIONS = ["base", "overlays/external", "overlays/embedded"]
KUBERNETES_VERSION = "1.30.0"


def render(name: str) -> dict[tuple[str, str], dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        service_unavailable("kubectl", "kubectl renders the Kustomize manifests")
        raise AssertionError("unreachable")
    done = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "deploy" / "kubernetes" / name)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    objects = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in objects}


def _containers(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_each_kustomization_renders_and_validates_against_the_kubernetes_schemas(
    name: str,
) -> None:
    objects = render(name)
    assert objects
    for (kind, object_name), document in objects.items():
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {kind}/{object_name}: {exc.message} at {list(exc.path)}")


@pytest.mark.parametrize("name", ["base", "overlays/external"])
def test_many_hosts_run_web_workers_and_a_migrate_job_as_non_root_with_probes_and_limits(
    name: str,
) -> None:
    objects = render(name)
    web = objects[("Deployment", "outpost-web")]
    worker = objects[("Deployment", "outpost-worker")]
    job = objects[("Job", "outpost-migrate")]
    assert _containers(job)["migrate"]["args"] == ["migrate"]  # manage.py migrate_locked
    assert _containers(web)["web"]["args"] == ["web"]
    assert _containers(worker)["worker"]["args"] == ["worker"]
    for pod_owner in (web, worker, job):
        pod = pod_owner["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    probes = _containers(web)["web"]
    assert probes["readinessProbe"]["httpGet"]["path"] == "/health?require=database,broker"
    assert probes["livenessProbe"]["httpGet"]["path"].startswith("/health")
    assert _containers(worker)["worker"]["livenessProbe"]["exec"]["command"] == [
        "/app/scripts/container-healthcheck"
    ]
    hpa = objects[("HorizontalPodAutoscaler", "outpost-worker")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "outpost-worker"
    assert {objects[("PodDisruptionBudget", n)]["spec"]["selector"]["matchLabels"][
        "app.kubernetes.io/component"] for n in ("outpost-web", "outpost-worker")} == {"web", "worker"}  # fmt: skip
    service = objects[("Service", "outpost-web")]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "web"
    config = next(doc for (kind, _), doc in objects.items() if kind == "ConfigMap")
    assert config["data"]["ARTIFACTS_STORAGE"] == "s3"  # every pod sees every artifact
    assert config["data"]["SCAN_EXECUTOR"] == "docker"
    env = {e["name"]: e.get("value") for e in _containers(worker)["worker"]["env"]}
    assert env["DOCKER_HOST"].startswith("tcp://") and env["DOCKER_TLS_VERIFY"] == "1"


def test_the_embedded_overlay_is_one_pod_on_one_volume_without_docker() -> None:
    objects = render("overlays/embedded")
    kinds = sorted(kind for kind, _ in objects)
    assert kinds == ["ConfigMap", "Deployment", "PersistentVolumeClaim", "Secret", "Service"]
    pod = objects[("Deployment", "outpost-web")]
    assert pod["spec"]["replicas"] == 1 and pod["spec"]["strategy"]["type"] == "Recreate"
    containers = _containers(pod)
    assert set(containers) == {"web", "worker"}
    for container in containers.values():
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["var"] == "/var/lib/outpost"
    volumes = {v["name"]: v for v in pod["spec"]["template"]["spec"]["volumes"]}
    assert volumes["var"] == {"name": "var", "persistentVolumeClaim": {"claimName": "outpost-data"}}
    config = next(doc for (kind, _), doc in objects.items() if kind == "ConfigMap")
    assert config["data"]["SCAN_EXECUTOR"] == "local"
    assert config["data"]["ARTIFACTS_STORAGE"] == "local"
    secret = next(doc for (kind, _), doc in objects.items() if kind == "Secret")
    assert set(secret["data"]) == {"SECRET_KEY"}  # no DATABASE_URL: the SQLite file


@pytest.mark.django_db
def test_the_web_readiness_probe_does_not_wait_for_workers(client: Any) -> None:
    """No worker runs in this test: /health is 503 (degraded), the web's readiness path 200."""
    whole = client.get("/health", HTTP_HOST="localhost")
    assert whole.status_code == 503 and whole.json()["checks"]["workers"]["ok"] is False
    ready = client.get("/health?require=database,broker", HTTP_HOST="localhost")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    assert "workers" in ready.json()["checks"]  # still reported
