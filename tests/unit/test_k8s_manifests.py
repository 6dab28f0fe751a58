"""deploy/k8s agrees with the Kubernetes API and with the code (service registry, settings classes,
topic catalogue, Dockerfile). No cluster and no network.

Every manifest is validated against the JSON schemas of Kubernetes KUBERNETES_VERSION that the
``kubernetes-validate`` package ships (strict: unknown fields are errors); sockets are refused while it
runs, so nothing is fetched. When ``kubectl`` or ``kustomize`` is on the PATH, the kustomization is
rendered and its output validated too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from services.registry import SERVICES
from shared.events.topics import TOPICS
from shared.settings import ServiceSettings, TraceExporter
from tests.unit.test_compose import load_compose, settings_field, with_defaults

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
DOCKERFILE = ROOT / "Dockerfile"
KUBERNETES_VERSION = "1.30"
NAMESPACE = "lienthong"
KUSTOMIZATION = "kustomization.yaml"
EXAMPLE_SECRET = "secret.example.yaml"
IMAGE = "lienthong"
LAG_METRIC = "lienthong_consumer_lag"
PARTITIONS = min(t.partitions for t in TOPICS.values())
"""A consumer group cannot use more members than a topic has partitions."""
CLUSTER_SCOPED = {"Namespace"}
ENV_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


# ---- helpers ---------------------------------------------------------------------------------------
def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.iterdir() if p.suffix in (".yaml", ".yml"))


def documents(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    for doc in docs:
        assert isinstance(doc, dict), f"{path.name}: a document is not a mapping"
    return docs


def applied() -> list[dict[str, Any]]:
    """The resources kustomization.yaml applies (every file but itself and the example secret)."""
    return [d for p in manifest_files() if p.name not in (KUSTOMIZATION, EXAMPLE_SECRET) for d in documents(p)]


def of_kind(kind: str, docs: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for doc in applied() if docs is None else docs:
        if doc["kind"] == kind:
            name = doc["metadata"]["name"]
            assert name not in found, f"two {kind}s named {name}"
            found[name] = doc
    return found


def deployments() -> dict[str, dict[str, Any]]:
    return of_kind("Deployment")


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{deployment['metadata']['name']}: one container expected"
    found: dict[str, Any] = containers[0]
    return found


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels is used: {selector}"
    return bool(selector.get("matchLabels")) and selector["matchLabels"].items() <= labels.items()


def settings_type(deployment: dict[str, Any]) -> type[ServiceSettings]:
    return SERVICES[deployment["metadata"]["name"]].settings_type()


def env_sources(deployment: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Names of the ConfigMaps and Secrets the container takes its environment from."""
    config_maps, secrets = [], []
    for source in container(deployment).get("envFrom") or []:
        assert not source.get("prefix"), "a prefix would hide LIENTHONG_ names"
        if "configMapRef" in source:
            config_maps.append(source["configMapRef"]["name"])
        if "secretRef" in source:
            secrets.append(source["secretRef"]["name"])
    return config_maps, secrets


def config_maps() -> dict[str, dict[str, str]]:
    return {name: doc.get("data") or {} for name, doc in of_kind("ConfigMap").items()}


def example_secrets() -> dict[str, dict[str, str]]:
    return {
        name: doc.get("stringData") or {} for name, doc in of_kind("Secret", documents(K8S / EXAMPLE_SECRET)).items()
    }


def resolved_env(deployment: dict[str, Any], pod_name: str) -> dict[str, str]:
    """The container's environment as the kubelet builds it, with the example secrets' values."""
    env: dict[str, str] = {}
    maps, secrets = env_sources(deployment)
    for name in maps:
        env |= config_maps()[name]
    for name in secrets:
        env |= example_secrets()[name]
    for var in container(deployment).get("env") or []:
        if "value" in var:
            env[var["name"]] = ENV_REFERENCE.sub(lambda m: env.get(m.group(1), m.group(0)), str(var["value"]))
        elif var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[var["name"]] = pod_name
        else:
            raise AssertionError(f"unexpected env entry {var}")
    return env


def http_port(deployment: dict[str, Any], port: int | str) -> int:
    """The container port a probe or a Service names, by number or by name."""
    ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
    if isinstance(port, str) and not port.isdigit():
        assert port in ports, f"{deployment['metadata']['name']}: no container port named {port}"
        return int(ports[port])
    return int(port)


def dockerfile_instruction(name: str) -> str:
    found = re.findall(rf"^{name}\s+(.+)$", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert found, f"Dockerfile: no {name}"
    return str(found[-1]).strip()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse every connection and name lookup: validation must work offline."""

    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError(f"network access during validation: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


def schema_errors(docs: list[dict[str, Any]], where: str) -> list[str]:
    errors = []
    for doc in docs:
        kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{where}: {kind}/{name}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{where}: {kind}/{name}: {exc.message}")
    return errors


# ---- files and schemas -----------------------------------------------------------------------------
def test_every_manifest_parses() -> None:
    names = {p.name for p in manifest_files()}
    assert {"namespace.yaml", "configmap.yaml", EXAMPLE_SECRET, KUSTOMIZATION} <= names
    assert {f"{service}.yaml" for service in SERVICES} <= names
    for path in manifest_files():
        docs = documents(path)
        assert docs, f"{path.name}: empty"
        for doc in docs:
            assert doc.get("apiVersion") and doc.get("kind"), f"{path.name}: apiVersion and kind"
            if path.name != KUSTOMIZATION:
                assert doc.get("metadata", {}).get("name"), f"{path.name}: a {doc['kind']} without a name"


@pytest.mark.usefixtures("no_network")
def test_every_resource_validates_against_the_kubernetes_schema() -> None:
    assert kubernetes_validate.utils.major_minor(KUBERNETES_VERSION) in {
        kubernetes_validate.utils.major_minor(v) for v in kubernetes_validate.utils.all_versions()
    }, f"kubernetes-validate {kubernetes_validate.__version__} has no schemas for {KUBERNETES_VERSION}"
    errors: list[str] = []
    for path in manifest_files():
        if path.name != KUSTOMIZATION:  # kustomize's own file, no API resource: checked below
            errors += schema_errors(documents(path), path.name)
    assert not errors, "\n".join(errors)


@pytest.mark.usefixtures("no_network")
def test_the_validator_rejects_an_unknown_field() -> None:
    """Strict schemas: a misspelt field is an error, not silently dropped by the API server."""
    deployment = json.loads(json.dumps(deployments()["intake"]))
    probe = container(deployment)["readinessProbe"]
    probe["httpGett"] = probe.pop("httpGet")
    assert schema_errors([deployment], "mutated")


def test_the_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    (kustomization,) = documents(K8S / KUSTOMIZATION)
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "resources", "images", "labels"}
    assert kustomization["namespace"] == NAMESPACE
    expected = {p.name for p in manifest_files()} - {KUSTOMIZATION, EXAMPLE_SECRET}
    assert sorted(kustomization["resources"]) == sorted(expected), "kustomization.yaml resources"
    assert EXAMPLE_SECRET not in kustomization["resources"], "the example secret must never be applied"
    images = {i["name"]: i for i in kustomization.get("images") or []}
    assert set(images) == {IMAGE}, "kustomize sets the tag of the one image"
    assert images[IMAGE].get("newTag"), "kustomization.yaml: no newTag for the image"


def test_the_example_secret_is_marked_and_holds_placeholders_only() -> None:
    text = (K8S / EXAMPLE_SECRET).read_text(encoding="utf-8")
    assert text.startswith("# EXAMPLE ONLY"), "say at the top that it is an example"
    assert "secret store" in text
    for name, data in example_secrets().items():
        for key, value in data.items():
            if re.search(r"PASSWORD|TOKEN|SECRET", key):
                assert value.startswith("CHANGE-ME"), f"{name}: {key} is not a placeholder"
            if "://" in value and "@" in value.split("://", 1)[1].split("/", 1)[0]:
                assert ":CHANGE-ME@" in value, f"{name}: the password in {key} is not a placeholder"


def test_every_namespaced_resource_is_in_the_namespace() -> None:
    (namespace,) = of_kind("Namespace").values()
    assert namespace["metadata"]["name"] == NAMESPACE
    for doc in [*applied(), *documents(K8S / EXAMPLE_SECRET)]:
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{doc['kind']}/{doc['metadata']['name']}"


# ---- Deployments -----------------------------------------------------------------------------------
def test_every_service_is_deployed_with_the_image_entrypoint() -> None:
    assert set(deployments()) == set(SERVICES)
    entrypoint = json.loads(dockerfile_instruction("ENTRYPOINT"))
    for name, deployment in deployments().items():
        c = container(deployment)
        # `command` replaces the image's ENTRYPOINT, so it starts with the program.
        assert c["command"] == [*entrypoint, "serve", name], f"{name}: command {c['command']}"
        assert "args" not in c, f"{name}: args would be appended to the command"
        assert "replicas" not in deployment["spec"], f"{name}: the HorizontalPodAutoscaler owns the count"


def test_images_are_referenced_by_name_only() -> None:
    for name, deployment in deployments().items():
        c = container(deployment)
        assert c["image"] == IMAGE, f"{name}: {c['image']} (the tag belongs in kustomization.yaml)"
        assert c.get("imagePullPolicy") == "IfNotPresent", f"{name}: an untagged image is pulled Always"


def test_container_ports_probes_and_scrape_annotations() -> None:
    for name, deployment in deployments().items():
        default_port = SERVICES[name].settings_type().default_port
        c = container(deployment)
        assert [(p["name"], p["containerPort"]) for p in c["ports"]] == [("http", default_port)], name
        env = {v["name"]: v.get("value") for v in c["env"]}
        assert env.get("LIENTHONG_PORT") == str(default_port), f"{name}: LIENTHONG_PORT"
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = c[probe]["httpGet"]
            assert get["path"] == path, f"{name}: {probe} on {get['path']}"
            assert http_port(deployment, get["port"]) == default_port, f"{name}: {probe} port"
            assert get.get("scheme", "HTTP") == "HTTP"
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == str(default_port), name
        assert annotations.get("prometheus.io/path", "/metrics") == "/metrics", name


def test_pods_run_unprivileged_with_limits_and_a_grace_period() -> None:
    user, _, group = dockerfile_instruction("USER").partition(":")
    for name, deployment in deployments().items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] == 30, name
        assert pod.get("automountServiceAccountToken") is False, f"{name}: needs no API token"
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True, name
        assert str(security["runAsUser"]) == user and str(security["runAsGroup"]) == (group or user), name
        assert security["seccompProfile"]["type"] == "RuntimeDefault", name
        c = container(deployment)
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], name
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert "/tmp" in mounts and "emptyDir" in volumes[mounts["/tmp"]], f"{name}: no writable /tmp"
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{name}: {kind}"


def test_the_client_id_suffix_comes_from_the_pod_name() -> None:
    for name, deployment in deployments().items():
        env = container(deployment)["env"]
        names = [v["name"] for v in env]
        suffix = env[names.index("LIENTHONG_KAFKA_CLIENT_ID_SUFFIX")]
        referenced = ENV_REFERENCE.findall(suffix["value"])
        assert referenced, f"{name}: the suffix does not name the pod"
        for ref in referenced:
            source = env[names.index(ref)]
            # $(VAR) expands only variables defined earlier in the list.
            assert names.index(ref) < names.index(suffix["name"]), f"{name}: {ref} is defined after its use"
            assert source["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name", f"{name}: {ref}"
        assert resolved_env(deployment, "pod-1")["LIENTHONG_KAFKA_CLIENT_ID_SUFFIX"] == "-pod-1"


# ---- environment and settings ----------------------------------------------------------------------
def test_every_env_source_exists() -> None:
    maps, secrets = config_maps(), example_secrets()
    for name, deployment in deployments().items():
        map_names, secret_names = env_sources(deployment)
        assert map_names == ["lienthong-env"], name
        assert "lienthong-database" in secret_names, name
        for source in container(deployment)["envFrom"]:
            ref = source.get("configMapRef") or source.get("secretRef")
            assert not ref.get("optional"), f"{name}: {ref['name']} must not be optional"
        assert set(map_names) <= set(maps), f"{name}: unknown ConfigMap"
        assert set(secret_names) <= set(secrets), f"{name}: Secret not documented in {EXAMPLE_SECRET}"


def test_every_lienthong_variable_is_a_settings_field() -> None:
    maps, secrets = config_maps(), example_secrets()
    for name, deployment in deployments().items():
        cls = settings_type(deployment)
        map_names, secret_names = env_sources(deployment)
        keys = [k for m in map_names for k in maps[m]] + [k for s in secret_names for k in secrets[s]]
        keys += [v["name"] for v in container(deployment)["env"]]
        for key in keys:
            if key.upper().startswith("LIENTHONG_"):
                assert settings_field(key, cls), f"{name}: {key} is no {cls.__name__} field"
            else:
                assert key == "POD_NAME", f"{name}: {key} is read by nothing"
    for secret in secrets:
        readers = [d for d in deployments().values() if secret in env_sources(d)[1]]
        assert readers, f"{secret} is read by no Deployment"


def test_the_configmap_matches_the_compose_environment() -> None:
    compose_env = {k: with_defaults(v) for k, v in load_compose()["x-lienthong-env"].items()}
    assert config_maps()["lienthong-env"] == {k: v for k, v in compose_env.items() if k != "LIENTHONG_DATABASE_URL"}
    assert "LIENTHONG_DATABASE_URL" in example_secrets()["lienthong-database"]


def test_the_environment_loads_into_each_settings_class(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, deployment in deployments().items():
        with monkeypatch.context() as m:
            for key in [k for k in os.environ if k.upper().startswith("LIENTHONG_")]:
                m.delenv(key)
            for key, value in resolved_env(deployment, f"{name}-5d8f9c7b6-x2k4q").items():
                m.setenv(key, value)
            settings = settings_type(deployment)()
        assert settings.host == "0.0.0.0", f"{name}: must listen on every interface"
        assert settings.listen_port == settings_type(deployment).default_port
        assert settings.database_url.startswith("postgresql+asyncpg://"), f"{name}: PostgreSQL only"
        assert settings.kafka_idempotent_producer, name
        assert settings.kafka_client_id_suffix == f"-{name}-5d8f9c7b6-x2k4q"
        assert settings.trace_exporter is TraceExporter.OTLP


# ---- Services, disruption budgets, autoscalers -----------------------------------------------------
def test_every_service_targets_its_deployment_port_by_name() -> None:
    services = of_kind("Service")
    assert set(services) == set(deployments())
    for name, service in services.items():
        spec = service["spec"]
        assert spec.get("type", "ClusterIP") == "ClusterIP", name
        selected = [d for d in deployments().values() if spec["selector"].items() <= pod_labels(d).items()]
        assert [d["metadata"]["name"] for d in selected] == [name], f"{name}: selects {len(selected)} Deployments"
        (port,) = spec["ports"]
        assert port["name"] == "http" and port["targetPort"] == "http", f"{name}: target the port by name"
        assert http_port(selected[0], port["targetPort"]) == SERVICES[name].settings_type().default_port
        assert port["port"] == SERVICES[name].settings_type().default_port, name


def test_every_disruption_budget_selects_one_deployment() -> None:
    budgets = of_kind("PodDisruptionBudget")
    covered: list[str] = []
    for name, budget in budgets.items():
        spec = budget["spec"]
        assert spec.get("minAvailable") == 1 or spec.get("maxUnavailable") == 1, f"{name}: minAvailable/maxUnavailable"
        selected = [d["metadata"]["name"] for d in deployments().values() if selects(spec["selector"], pod_labels(d))]
        assert len(selected) == 1, f"PodDisruptionBudget {name} selects {selected}"
        covered += selected
    assert sorted(covered) == sorted(deployments()), "one PodDisruptionBudget per Deployment"


def test_every_autoscaler_scales_a_deployment_on_lag_and_cpu_within_the_partitions() -> None:
    autoscalers = of_kind("HorizontalPodAutoscaler")
    assert all(doc["apiVersion"] == "autoscaling/v2" for doc in autoscalers.values())
    targets: list[str] = []
    for name, hpa in autoscalers.items():
        spec = hpa["spec"]
        ref = spec["scaleTargetRef"]
        assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment"), name
        assert ref["name"] in deployments(), f"{name}: no Deployment {ref['name']}"
        targets.append(ref["name"])
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"] <= PARTITIONS, f"{name}: replicas vs partitions"
        metrics = {m["type"]: m for m in spec["metrics"]}
        assert len(metrics) == len(spec["metrics"]) == 2, f"{name}: lag and CPU"
        lag = metrics["External"]["external"]
        assert lag["metric"]["name"] == LAG_METRIC, name
        assert lag["metric"]["selector"] == {"matchLabels": {"consumer": ref["name"]}}, f"{name}: consumer group"
        assert lag["target"] == {"type": "AverageValue", "averageValue": "500"}, name
        cpu = metrics["Resource"]["resource"]
        assert cpu == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}, name
        requests = container(deployments()[ref["name"]])["resources"]["requests"]
        assert "cpu" in requests, f"{name}: CPU utilisation needs a CPU request"
    assert sorted(targets) == sorted(deployments()), "one autoscaler per Deployment (every service consumes)"


# ---- rendering, when a kustomize is at hand --------------------------------------------------------
def kustomize_command() -> list[str]:
    if shutil.which("kustomize"):
        return ["kustomize", "build", str(K8S)]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize", str(K8S)]
    pytest.skip("neither kustomize nor kubectl on the PATH")


def test_the_kustomization_renders_to_valid_resources() -> None:
    command = kustomize_command()
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    rendered = [d for d in yaml.safe_load_all(done.stdout) if d is not None]
    assert len(rendered) == len(applied())
    assert not schema_errors(rendered, "rendered")
    (kustomization,) = documents(K8S / KUSTOMIZATION)
    tag = kustomization["images"][0]["newTag"]
    for deployment in of_kind("Deployment", rendered).values():
        assert container(deployment)["image"] == f"{IMAGE}:{tag}"
    assert not of_kind("Secret", rendered), "no Secret is applied: they come from the secret store"
