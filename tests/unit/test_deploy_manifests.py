"""The deployment files are valid and wired together, checked offline (no cluster, no Docker).

Kubernetes objects are validated in strict mode (unknown fields are errors) against the
Kubernetes OpenAPI schemas shipped in the ``kubernetes-validate`` package. KubeRay's RayJob is
a custom resource with no schema there: its pod templates are validated as Pods, the rest is
checked by hand. The compose file is checked for the services and wiring the README promises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="dev extra not installed")

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "kubernetes"
K8S_VERSION = "1.30.0"  # the oldest Kubernetes we document; native APIs used here are all GA there


def k8s_objects() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((path.name, doc))
    return found


def validate(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    kind, spec = obj["kind"], obj.get("spec", {})
    if kind == "Deployment":
        return [spec["template"]["spec"]]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if kind == "RayJob":
        cluster = spec["rayClusterSpec"]
        return [cluster["headGroupSpec"]["template"]["spec"]] + [
            group["template"]["spec"] for group in cluster["workerGroupSpecs"]]
    return []


@pytest.mark.parametrize(("name", "obj"), k8s_objects(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_kubernetes_object_is_valid(name: str, obj: dict[str, Any]) -> None:
    if obj["apiVersion"].startswith("ray.io/"):
        spec = obj["spec"]
        assert obj["kind"] == "RayJob" and "--engine ray" in spec["entrypoint"]
        assert {"headGroupSpec", "workerGroupSpecs"} <= spec["rayClusterSpec"].keys()
        for pod in pod_specs(obj):  # the parts Kubernetes itself will run
            validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": pod})
        return
    validate(obj)


def test_the_expected_objects_are_there() -> None:
    kinds = {(obj["kind"], obj["metadata"].get("name")) for _, obj in k8s_objects()}
    assert {("Deployment", "assistant-serve"), ("Service", "assistant"), ("HorizontalPodAutoscaler", "assistant-serve"),
            ("Deployment", "assistant-slack"), ("CronJob", "assistant-ingest")} <= kinds
    assert any(kind == "RayJob" for kind, _ in kinds)


def test_serving_pods_are_ready_on_readyz_and_never_write_the_index() -> None:
    for name, obj in k8s_objects():
        if obj["kind"] != "Deployment" or obj["metadata"]["name"] != "assistant-serve":
            continue
        pod = pod_specs(obj)[0]
        serve = next(c for c in pod["containers"] if c["name"] == "serve")
        assert serve["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert serve["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        index_mount = next(m for m in serve["volumeMounts"] if m["name"] == "index")
        assert index_mount["readOnly"] is True, name
        env = {e["name"]: e.get("value") for e in serve["env"]}
        assert env["ASSISTANT_DATA_DIR"] == index_mount["mountPath"], name


def test_the_hpa_scales_the_serving_deployment() -> None:
    objects = {(obj["kind"], obj["metadata"].get("name")): obj for _, obj in k8s_objects()}
    target = objects[("HorizontalPodAutoscaler", "assistant-serve")]["spec"]["scaleTargetRef"]
    assert ("Deployment", target["name"]) in objects and target["kind"] == "Deployment"


def test_the_cronjob_can_switch_to_the_ray_engine() -> None:
    cron = next(obj for _, obj in k8s_objects() if obj["kind"] == "CronJob")
    container = pod_specs(cron)[0]["containers"][0]
    assert "--engine" in container["command"] and "$(INGEST_ENGINE)" in container["command"]
    assert {e["name"] for e in container["env"]} >= {"INGEST_ENGINE", "RAY_ADDRESS"}
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_compose_stack_has_every_part_wired() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"tgi", "redis", "postgres", "serve-a", "serve-b", "proxy", "slack", "ingest"} <= services.keys()
    assert services["tgi"]["image"].startswith("ghcr.io/huggingface/text-generation-inference:")
    assert "${TGI_MODEL_ID" in " ".join(services["tgi"]["command"])  # the model id is a setting
    for name in ("serve-a", "serve-b", "slack", "ingest"):
        env = services[name]["environment"]
        assert env["ASSISTANT_REDIS_URL"].startswith("redis://redis:"), name
        assert env["ASSISTANT_STORE_URL"].startswith("postgresql://"), name
        assert env["ASSISTANT_TGI_URL"] == "http://tgi:80", name
    for name in ("serve-a", "serve-b", "slack"):
        assert services[name]["volumes"] == ["index:/index:ro"], name  # serving never writes the index
    assert services["ingest"]["volumes"][0] == "index:/index" and services["ingest"]["restart"] == "no"
    nginx = (DEPLOY / "compose" / "nginx.conf").read_text()
    assert "server serve-a:8000" in nginx and "server serve-b:8000" in nginx and "proxy_buffering off" in nginx
    assert (DEPLOY / "Dockerfile").is_file()
