"""The Kubernetes manifests: valid against Kubernetes' own schemas, and holding what operators
rely on (probes, non-root, read-only root, graceful shutdown, disruption budget, configuration
and secrets). The image they run is checked in test_dockerfile.py.

The schemas come bundled with kubernetes-validate, so this runs offline. Strict mode rejects
unknown fields, which is what catches a misspelt key (``readinesProbe``) that a cluster would
silently drop.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

from bot.config import load_config

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "manifests" / "k8s"

# The oldest Kubernetes minor the manifests must apply to; every API they use is GA there.
KUBERNETES_VERSION = "1.30"

POD_LABELS = {"app.kubernetes.io/name": "sms-bridge"}
REQUIRED_SECRETS = {
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "VOIPBIN_ACCESSKEY",
    "VOIPBIN_WEBHOOK_SECRET",
    "DATABASE_URL",
}
SECRET_TEMPLATE = "secret.example.yaml"
UID = 10001
PORT = 8080
SERVE_ARGS = ["serve", "--host", "0.0.0.0", "--port", "8080", "--config", "/config/app.yaml"]


# ---- loading ------------------------------------------------------------------------------


def manifest_files() -> list[Path]:
    return sorted([*K8S.glob("*.yaml"), *K8S.glob("*.yml")])


@functools.cache
def documents(path: Path) -> tuple[dict[str, Any], ...]:
    """Every non-empty document of a (possibly multi-document) YAML file."""
    docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    assert all(isinstance(doc, dict) for doc in docs), f"{path.name}: a document is not a mapping"
    return tuple(docs)


def all_objects() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in manifest_files():
        for index, doc in enumerate(documents(path)):
            yield f"{path.name}[{index}]", doc


def only(kind: str, *, include_template: bool = False) -> dict[str, Any]:
    found = [
        doc
        for name, doc in all_objects()
        if doc.get("kind") == kind and (include_template or not name.startswith(SECRET_TEMPLATE))
    ]
    assert len(found) == 1, f"expected exactly one {kind}, found {len(found)}"
    return found[0]


def kubernetes_objects() -> list[tuple[str, dict[str, Any]]]:
    """Everything that is sent to the API server (the Kustomization is kustomize's own)."""
    return [(name, doc) for name, doc in all_objects() if doc.get("kind") != "Kustomization"]


def deployment() -> dict[str, Any]:
    return only("Deployment")


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = deployment()["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    containers = pod_spec()["containers"]
    assert len(containers) == 1
    c: dict[str, Any] = containers[0]
    return c


def resolve_port(port: int | str) -> int:
    """A probe's or Service's port (a number or a container port's name) as a number."""
    ports = {p["name"]: p["containerPort"] for p in container()["ports"] if "name" in p}
    if isinstance(port, str):
        assert port in ports, f"{port!r} names no container port"
        return int(ports[port])
    return port


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are expected"
    match = selector.get("matchLabels", {})
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$")
_MEMORY_UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def cpu(quantity: str | int | float) -> float:
    match = _CPU.match(str(quantity))
    assert match, f"unexpected CPU quantity {quantity!r}"
    return float(match.group(1)) / (1000 if match.group(2) else 1)


def memory(quantity: str | int) -> int:
    match = _MEMORY.match(str(quantity))
    assert match, f"unexpected memory quantity {quantity!r}"
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])


def configmap_app_config(tmp_path: Path) -> Any:
    text = only("ConfigMap")["data"]["app.yaml"]
    path = tmp_path / "app.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env={})


# ---- schema validation --------------------------------------------------------------------


def test_the_manifests_are_there() -> None:
    names = {path.name for path in manifest_files()}
    assert names >= {
        "deployment.yaml",
        "service.yaml",
        "configmap.yaml",
        SECRET_TEMPLATE,
        "pdb.yaml",
        "kustomization.yaml",
    }


def test_the_schemas_for_the_chosen_version_are_bundled() -> None:
    # kubernetes-validate drops old versions over time; fail clearly rather than fall back.
    bundled = {".".join(v.split(".")[:2]) for v in kubernetes_validate.utils.all_versions()}
    assert KUBERNETES_VERSION in bundled


@pytest.mark.parametrize(
    ("name", "doc"), kubernetes_objects(), ids=[name for name, _ in kubernetes_objects()]
)
def test_each_object_is_valid_against_the_kubernetes_schema(name: str, doc: dict[str, Any]) -> None:
    try:
        version = kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path)
        pytest.fail(f"{name} ({doc['kind']}): {where}: {exc.message}")
    assert version == KUBERNETES_VERSION


def test_strict_validation_rejects_a_misspelt_field() -> None:
    # Proves the validation above is not vacuous: a typo must fail, not be ignored.
    doc = json.loads(json.dumps(deployment()))
    doc["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_no_manifest_names_a_namespace() -> None:
    for name, doc in all_objects():
        assert "namespace" not in doc.get("metadata", {}), f"{name} is not namespace-agnostic"
        assert "namespace" not in doc, f"{name} pins a namespace; leave it to -n or overlays"


def test_the_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    kustomization = only("Kustomization")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    resources = kustomization["resources"]
    expected = {p.name for p in manifest_files()} - {"kustomization.yaml", SECRET_TEMPLATE}
    assert sorted(resources) == sorted(expected)
    assert SECRET_TEMPLATE not in resources
    text = (K8S / "kustomization.yaml").read_text(encoding="utf-8")
    assert "kubectl create secret generic sms-bridge" in text
    for secret in REQUIRED_SECRETS:
        assert f"--from-literal={secret}=" in text


# ---- Deployment ---------------------------------------------------------------------------


def test_two_replicas_roll_without_losing_capacity() -> None:
    spec = deployment()["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert spec["strategy"]["rollingUpdate"]["maxSurge"] >= 1


def test_labels_and_selector_agree() -> None:
    dep = deployment()
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert pod_labels.items() >= POD_LABELS.items()
    assert dep["metadata"]["labels"].items() >= POD_LABELS.items()
    assert selects(dep["spec"]["selector"], pod_labels)


def test_the_replicas_prefer_different_nodes() -> None:
    spec = pod_spec()
    pod_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    spread = [
        c
        for c in spec.get("topologySpreadConstraints", [])
        if c["topologyKey"] == "kubernetes.io/hostname" and selects(c["labelSelector"], pod_labels)
    ]
    preferred = (
        spec.get("affinity", {})
        .get("podAntiAffinity", {})
        .get("preferredDuringSchedulingIgnoredDuringExecution", [])
    )
    assert spread or preferred, "no spreading across nodes"


def test_the_container_runs_the_images_server_on_the_container_port() -> None:
    c = container()
    assert c["image"] == "ghcr.io/example/sms-bridge:0.1.0"
    assert [p["containerPort"] for p in c["ports"]] == [PORT]
    assert c.get("args", SERVE_ARGS) == SERVE_ARGS
    assert "command" not in c, "the image's ENTRYPOINT (sms-bridge) must be kept"


@pytest.mark.parametrize(
    ("probe", "path"),
    [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz")],
)
def test_probes_point_at_the_health_endpoints_on_the_container_port(probe: str, path: str) -> None:
    http = container()[probe]["httpGet"]
    assert http["path"] == path
    assert resolve_port(http["port"]) == PORT
    assert http.get("scheme", "HTTP") == "HTTP"


def test_the_startup_probe_allows_time_for_migrations() -> None:
    startup = container()["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


def test_it_runs_as_non_root_with_a_read_only_root_filesystem() -> None:
    pod = pod_spec()["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == UID
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    sc = container()["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc.get("runAsUser", UID) == UID
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "add" not in sc["capabilities"]
    assert sc.get("seccompProfile", pod["seccompProfile"])["type"] == "RuntimeDefault"
    assert "privileged" not in sc or sc["privileged"] is False


def test_resources_have_requests_and_limits() -> None:
    resources = container()["resources"]
    for kind, parse in (("cpu", cpu), ("memory", memory)):
        request = parse(resources["requests"][kind])
        limit = parse(resources["limits"][kind])
        assert 0 < request <= limit, kind
    assert memory(resources["limits"]["memory"]) >= 128 * 2**20


def test_shutdown_fits_in_the_termination_grace_period(tmp_path: Path) -> None:
    grace = pod_spec()["terminationGracePeriodSeconds"]
    assert grace > 20
    # preStop pause + the jobs' grace (+5 s for uvicorn to close connections) must fit.
    pre_stop = container().get("lifecycle", {}).get("preStop", {})
    command = pre_stop.get("exec", {}).get("command", [])
    pause = int(command[1]) if command[:1] == ["sleep"] else 0
    config = configmap_app_config(tmp_path)
    assert pause + config.jobs.shutdown_grace_seconds + 5 < grace


def test_config_secrets_and_tmp_are_mounted() -> None:
    c = container()
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}

    config = volumes[mounts["/config"]["name"]]
    assert config["configMap"]["name"] == only("ConfigMap")["metadata"]["name"]
    assert [i["key"] for i in config["configMap"].get("items", [{"key": "app.yaml"}])] == [
        "app.yaml"
    ]
    assert mounts["/config"].get("readOnly") is True
    args = c.get("args", SERVE_ARGS)
    assert args[args.index("--config") + 1] == "/config/app.yaml"

    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]

    secret_refs = [e["secretRef"]["name"] for e in c["envFrom"] if "secretRef" in e]
    template = only("Secret", include_template=True)
    assert secret_refs == [template["metadata"]["name"]]
    # Secrets come only from the Secret, never as literal env values in the manifest.
    literal = {e["name"] for e in c.get("env", []) if "value" in e}
    assert not literal & REQUIRED_SECRETS


# ---- PodDisruptionBudget and Service ------------------------------------------------------


def test_the_pdb_keeps_one_pod_and_selects_the_deployments_pods() -> None:
    pdb = only("PodDisruptionBudget")
    pod_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["minAvailable"] < deployment()["spec"]["replicas"], "drains would block"
    assert selects(pdb["spec"]["selector"], pod_labels)


def test_the_service_selects_the_pods_and_targets_the_container_port() -> None:
    service = only("Service")
    pod_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    selector = service["spec"]["selector"]
    assert selector and pod_labels.items() >= selector.items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == 80
    assert resolve_port(port["targetPort"]) == PORT


# ---- ConfigMap and Secret template --------------------------------------------------------


def test_the_configmaps_app_yaml_is_accepted_by_the_services_validator(tmp_path: Path) -> None:
    config = configmap_app_config(tmp_path)
    assert config.numbers, "the example routes no number"


def test_the_configmaps_app_yaml_means_the_same_as_the_repositorys(tmp_path: Path) -> None:
    assert configmap_app_config(tmp_path) == load_config(ROOT / "app.yaml", env={})


def test_the_secret_template_lists_exactly_the_required_secrets() -> None:
    secret = only("Secret", include_template=True)
    assert secret["type"] == "Opaque"
    assert "data" not in secret, "the template uses stringData placeholders only"
    assert set(secret["stringData"]) == REQUIRED_SECRETS
    for name, value in secret["stringData"].items():
        assert "REPLACE" in value or "PASSWORD" in value, f"{name} is not a placeholder"
    text = (K8S / SECRET_TEMPLATE).read_text(encoding="utf-8")
    assert "never commit" in text.lower()


# ---- manifests/k8s-split: serve --no-jobs beside a worker Deployment ----------------------

SPLIT = ROOT / "manifests" / "k8s-split"
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl (its kustomize) renders the overlay; not installed here"
)


@functools.cache
def split_objects() -> tuple[dict[str, Any], ...]:
    """The overlay as `kubectl apply -k manifests/k8s-split` would send it."""
    assert KUBECTL is not None
    rendered = subprocess.run(
        [KUBECTL, "kustomize", str(SPLIT)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(rendered) if doc)


def split_object(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in split_objects() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def only_container(dep: dict[str, Any]) -> dict[str, Any]:
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return dict(c)


@needs_kubectl
def test_the_split_overlay_is_the_base_plus_a_worker_and_valid() -> None:
    base = sorted(
        (d["kind"], d["metadata"]["name"])
        for name, d in kubernetes_objects()
        if not name.startswith(SECRET_TEMPLATE)
    )
    split = sorted((d["kind"], d["metadata"]["name"]) for d in split_objects())
    assert split == sorted([*base, ("Deployment", "sms-bridge-worker")])
    for doc in split_objects():
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    # Only the serving Deployment's arguments change; the Service, PDB and ConfigMap do not.
    for kind in ("Service", "PodDisruptionBudget", "ConfigMap"):
        assert split_object(kind, only(kind)["metadata"]["name"]) == only(kind)
    serve = split_object("Deployment", "sms-bridge")
    assert only_container(serve)["args"] == [*SERVE_ARGS, "--no-jobs"]
    unpatched = json.loads(json.dumps(serve))
    unpatched["spec"]["template"]["spec"]["containers"][0]["args"] = SERVE_ARGS
    assert unpatched == deployment()


@needs_kubectl
def test_the_worker_runs_the_jobs_with_its_health_routes_on_its_container_port() -> None:
    from bot.cli import build_parser

    worker = split_object("Deployment", "sms-bridge-worker")
    c = only_container(worker)
    args = build_parser().parse_args(c["args"])
    assert args.func.__name__ == "cmd_worker" and args.config == "/config/app.yaml"
    assert args.host == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert list(ports.values()) == [args.port]
    for probe, path in (
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ):
        http = c[probe]["httpGet"]
        assert http["path"] == path and ports.get(http["port"], http["port"]) == args.port
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(args.port)


@needs_kubectl
def test_the_worker_pods_are_set_up_like_the_serving_pods_but_take_no_traffic(
    tmp_path: Path,
) -> None:
    worker = split_object("Deployment", "sms-bridge-worker")
    spec, serve_spec = worker["spec"]["template"]["spec"], pod_spec()
    c, serve = only_container(worker), container()
    # Same image, Secret, configuration, volumes and restrictions as the serving pods.
    for key in ("image", "envFrom", "env", "volumeMounts", "securityContext", "resources"):
        assert c[key] == serve[key], key
    for key in ("volumes", "securityContext", "automountServiceAccountToken"):
        assert spec[key] == serve_spec[key], key
    # Its own labels: neither the Service nor the PDB selects a worker pod.
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert selects(worker["spec"]["selector"], labels)
    assert not only("Service")["spec"]["selector"].items() <= labels.items()
    assert not selects(only("PodDisruptionBudget")["spec"]["selector"], labels)
    # Rolls without a gap, and a stop (finish, hand back) fits in the grace period.
    assert worker["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    config = configmap_app_config(tmp_path)
    assert config.jobs.shutdown_grace_seconds + 5 < spec["terminationGracePeriodSeconds"]
