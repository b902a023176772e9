"""deploy/k8s: rendered by kustomize (kubectl's, or the kustomize binary), valid against the Kubernetes
API's schemas, passed by checkov (a written reason for each check it skips), and holding what
docs/deployment.md ("Kubernetes") says of it. No cluster: these read the rendered manifests."""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from eshop_cli.health import READINESS
from tests.deploy.podman import CACHE, DOCKERFILE, REPO

KUSTOMIZATION = REPO / "deploy" / "k8s"
NAMESPACE = "eshop"
# gRPC probes are stable from 1.27; the newest is the newest schema kubernetes-validate has.
VERSIONS = ("1.27.0", kubernetes_validate.latest_version())
GRPC_PORTS = {"product": 50051, "order": 50052}
CHECKOV_CONSTRAINTS = REPO / "deploy" / "test" / "checkov-constraints.txt"


def renderer() -> list[str] | None:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    command = renderer()
    if command is None:
        pytest.skip(
            "neither kubectl nor kustomize is installed (.ci/run installs Debian's kubernetes-client)"
        )
    result = subprocess.run(
        [*command, str(KUSTOMIZATION)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    path = tmp_path_factory.mktemp("k8s") / "rendered.yaml"
    path.write_text(result.stdout)
    return path


@pytest.fixture(scope="module")
def manifests(rendered: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered.read_text()) if doc]


def find(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def pod_templates(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{m['kind']}/{m['metadata']['name']}": m["spec"]["template"]
        for m in manifests
        if m["kind"] in ("Deployment", "Job")
    }


def dockerfile_env(variable: str) -> str:
    match = re.search(rf"\b{variable}=(\S+)", DOCKERFILE.read_text())
    assert match is not None, variable
    return match.group(1)


def test_the_kustomization_renders_every_resource_in_its_namespace(manifests: list[dict[str, Any]]) -> None:
    assert sorted((m["kind"], m["metadata"]["name"]) for m in manifests) == sorted(
        [
            ("Namespace", NAMESPACE),
            ("ConfigMap", "eshop-config"),
            ("Secret", "eshop-database"),
            ("Secret", "eshop-events"),
            ("Job", "eshop-migrate"),
            ("Deployment", "product"),
            ("Deployment", "order"),
            ("Service", "product"),
            ("Service", "order"),
            ("PodDisruptionBudget", "product"),
            ("PodDisruptionBudget", "order"),
            ("NetworkPolicy", "default-deny-ingress"),
            ("NetworkPolicy", "product-ingress"),
            ("NetworkPolicy", "order-ingress"),
        ]
    )
    for manifest in manifests:
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"]["namespace"] == NAMESPACE, manifest["metadata"]["name"]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_manifests_are_valid_for_kubernetes(manifests: list[dict[str, Any]], version: str) -> None:
    for manifest in manifests:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_strict_validation_refuses_a_field_kubernetes_does_not_know(manifests: list[dict[str, Any]]) -> None:
    """The check above can fail: a misspelt field (readinessProbe as readynessProbe) is refused."""
    deployment = copy.deepcopy(find(manifests, "Deployment", "product"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readynessProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)


def checkov() -> str:
    """ESHOP_TEST_CHECKOV, or checkov in a virtualenv of its own (its pins clash with constraints.txt),
    made from PyPI once per version of deploy/test/checkov-constraints.txt and kept in the cache."""
    if configured := os.environ.get("ESHOP_TEST_CHECKOV"):
        return configured
    key = hashlib.sha256(CHECKOV_CONSTRAINTS.read_bytes() + sys.version.encode()).hexdigest()[:12]
    home = CACHE / f"checkov-{key}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".checkov.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "complete").exists():
            shutil.rmtree(home, ignore_errors=True)
            venv.create(home, with_pip=True)
            subprocess.run(
                [str(home / "bin" / "python"), "-I", "-m", "pip", "install", "--quiet",
                 "-c", str(CHECKOV_CONSTRAINTS), "checkov"],
                check=True, timeout=900,
            )  # fmt: skip
            (home / "complete").touch()
            for stale in CACHE.glob("checkov-*"):
                if stale != home:
                    shutil.rmtree(stale, ignore_errors=True)
    return str(home / "bin" / "checkov")


def test_checkov_fails_no_check_and_says_why_it_skips_each(rendered: Path) -> None:
    result = subprocess.run(
        [
            checkov(),
            "--framework",
            "kubernetes",
            "--file",
            str(rendered),
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, summary
    assert summary["passed"] > 100, summary
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    for skipped in report["results"]["skipped_checks"]:
        assert len(skipped["check_result"].get("suppress_comment", "")) > 40, skipped["check_id"]


@pytest.mark.parametrize("service", ["product", "order"])
def test_two_replicas_each_with_grpc_startup_liveness_and_readiness_probes(
    manifests: list[dict[str, Any]], service: str
) -> None:
    deployment = find(manifests, "Deployment", service)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    port = GRPC_PORTS[service]
    assert dockerfile_env(f"{service.upper()}_LISTEN_ADDRESS") == f"0.0.0.0:{port}"
    assert container["args"] == [service, "serve"]
    # "" (the process serves) for startup and liveness; the service's name (its database answers), as
    # `eshop health` and the image's HEALTHCHECK ask, for readiness.
    assert container["startupProbe"]["grpc"] == {"port": port, "service": ""}
    assert container["livenessProbe"]["grpc"] == {"port": port, "service": ""}
    assert container["readinessProbe"]["grpc"] == {"port": port, "service": READINESS[service]}
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 30
    env_from = [next(iter(source.values()))["name"] for source in container["envFrom"]]
    assert env_from == ["eshop-config", "eshop-database", "eshop-events"]


def test_every_pod_runs_unprivileged_on_a_read_only_root(manifests: list[dict[str, Any]]) -> None:
    user, group = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(), re.MULTILINE).groups()  # type: ignore[union-attr]
    templates = pod_templates(manifests)
    assert set(templates) == {"Deployment/product", "Deployment/order", "Job/eshop-migrate"}
    for name, template in templates.items():
        spec = template["spec"]
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["enableServiceLinks"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["fsGroup"] == int(group), name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert (context["runAsUser"], context["runAsGroup"]) == (int(user), int(group)), name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, (name, bound)
            # The only writable path is /data, an emptyDir: nothing else is mounted writable.
            for mount in container.get("volumeMounts", []):
                assert mount["mountPath"] == "/data", name


@pytest.mark.parametrize("service", ["product", "order"])
def test_each_deployment_has_a_service_and_a_disruption_budget_that_select_its_pods(
    manifests: list[dict[str, Any]], service: str
) -> None:
    labels = find(manifests, "Deployment", service)["spec"]["template"]["metadata"]["labels"]
    service_spec = find(manifests, "Service", service)["spec"]
    assert service_spec["selector"].items() <= labels.items()
    assert service_spec["ports"][0]["port"] == GRPC_PORTS[service]
    budget = find(manifests, "PodDisruptionBudget", service)["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["minAvailable"] == 1


def test_the_order_service_reaches_every_product_pod_through_dns(manifests: list[dict[str, Any]]) -> None:
    """A headless Service: DNS answers each Product pod, and the Order service's channel balances calls
    over them (a virtual IP would pin each connection to one pod)."""
    assert find(manifests, "Service", "product")["spec"]["clusterIP"] == "None"
    config = find(manifests, "ConfigMap", "eshop-config")["data"]
    assert config["ORDER_PRODUCT_SERVICE_TARGET"] == f"dns:///product:{GRPC_PORTS['product']}"


def test_the_migration_job_migrates_both_databases_and_the_replicas_only_check_the_schema(
    manifests: list[dict[str, Any]],
) -> None:
    (container,) = find(manifests, "Job", "eshop-migrate")["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["sh", "-c", "eshop product migrate && eshop order migrate"]
    assert container["envFrom"] == [{"secretRef": {"name": "eshop-database"}}]
    config = find(manifests, "ConfigMap", "eshop-config")["data"]
    assert config["PRODUCT_MIGRATE_ON_START"] == config["ORDER_MIGRATE_ON_START"] == "false"
    secret = find(manifests, "Secret", "eshop-database")["stringData"]
    assert set(secret) == {"PRODUCT_DATABASE_URL", "ORDER_DATABASE_URL"}


def test_the_replicas_take_the_events_broker_from_a_secret_empty_until_set(
    manifests: list[dict[str, Any]],
) -> None:
    """docs/deployment.md: the broker's URL (a password in it) is a Secret's, empty by default (no events
    written or published); the migration Job has no use for it."""
    secret = find(manifests, "Secret", "eshop-events")["stringData"]
    assert secret == {"PRODUCT_EVENTS_BROKER_URL": "", "ORDER_EVENTS_BROKER_URL": ""}
    for service in ("product", "order"):
        (container,) = find(manifests, "Deployment", service)["spec"]["template"]["spec"]["containers"]
        assert {"secretRef": {"name": "eshop-events"}} in container["envFrom"], service
        config = find(manifests, "ConfigMap", "eshop-config")["data"]
        assert not any("EVENTS_BROKER" in name for name in config)


@pytest.mark.parametrize("service", ["product", "order"])
def test_prometheus_scrapes_each_pod_at_its_metrics_port(
    manifests: list[dict[str, Any]], service: str
) -> None:
    template = find(manifests, "Deployment", service)["spec"]["template"]
    (container,) = template["spec"]["containers"]
    metrics_port = int(dockerfile_env(f"{service.upper()}_METRICS_ADDRESS").rpartition(":")[2])
    assert {"name": "metrics", "containerPort": metrics_port} in container["ports"]
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(metrics_port),
        "prometheus.io/path": "/metrics",
    }


# NetworkPolicy, as a network plugin applies it to ingress (enough of it for these manifests).
Pod = tuple[str, dict[str, str]]  # namespace, labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "matchExpressions are not evaluated here"
    return selector.get("matchLabels", {}).items() <= labels.items()


def admits(policies: list[dict[str, Any]], source: Pod, target: Pod, port: int) -> bool:
    namespace, labels = target
    applying = [
        p
        for p in policies
        if p["metadata"]["namespace"] == namespace
        and "Ingress" in p["spec"]["policyTypes"]
        and selects(p["spec"]["podSelector"], labels)
    ]
    if not applying:
        return True
    for policy in applying:
        for rule in policy["spec"].get("ingress", []):
            ports = [entry["port"] for entry in rule.get("ports", [])]
            if ports and port not in ports:
                continue
            peers = rule.get("from", [])
            if not peers or any(peer_matches(peer, namespace, source) for peer in peers):
                return True
    return False


def peer_matches(peer: dict[str, Any], policy_namespace: str, source: Pod) -> bool:
    namespace, labels = source
    assert "ipBlock" not in peer
    if "namespaceSelector" in peer:
        assert peer["namespaceSelector"] == {}, "only 'every namespace' is evaluated here"
    elif namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector", {}), labels)


def test_only_order_pods_reach_the_product_grpc_port(manifests: list[dict[str, Any]]) -> None:
    policies = [m for m in manifests if m["kind"] == "NetworkPolicy"]

    def pod(kind: str, name: str) -> Pod:
        return NAMESPACE, find(manifests, kind, name)["spec"]["template"]["metadata"]["labels"]

    product, order, migrate = (
        pod("Deployment", "product"),
        pod("Deployment", "order"),
        pod("Job", "eshop-migrate"),
    )
    stranger = (NAMESPACE, {"app.kubernetes.io/name": "debug"})
    elsewhere = ("monitoring", {"app.kubernetes.io/name": "order", "app.kubernetes.io/part-of": "eshop"})
    sources = {
        "order": order,
        "product": product,
        "migrate": migrate,
        "stranger": stranger,
        "elsewhere": elsewhere,
    }

    def reach(target: Pod, port: int) -> set[str]:
        return {name for name, source in sources.items() if admits(policies, source, target, port)}

    assert reach(product, GRPC_PORTS["product"]) == {"order"}
    assert reach(product, 9464) == set(sources)
    assert reach(order, GRPC_PORTS["order"]) == set(sources)
    assert reach(order, 9465) == set(sources)
    assert reach(migrate, 8080) == set()
    assert reach(product, 5432) == set()


def test_the_first_apply_of_the_docs_takes_the_migration_job_and_what_it_needs_and_no_replica(
    manifests: list[dict[str, Any]],
) -> None:
    """docs/deployment.md migrates before the replicas: its first `kubectl apply -k … -l …` selects the
    Job, its namespace, Secret and ConfigMap, and nothing else."""
    docs = (REPO / "docs" / "deployment.md").read_text()
    match = re.search(r"kubectl apply -k deploy/k8s -l '([\w./-]+) in \(([^)]*)\)'", docs)
    assert match is not None, "the docs' first apply is gone"
    key, values = match.group(1), {v.strip() for v in match.group(2).split(",")}
    selected = {
        (m["kind"], m["metadata"]["name"])
        for m in manifests
        if m["metadata"].get("labels", {}).get(key) in values
    }
    assert selected == {
        ("Namespace", NAMESPACE),
        ("ConfigMap", "eshop-config"),
        ("Secret", "eshop-database"),
        ("Job", "eshop-migrate"),
    }
