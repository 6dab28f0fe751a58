"""docker-compose.yml, the Dockerfile and the Kafka topic files agree with the Compose specification
and with the code (service registry, settings classes, topic catalogue). No Docker needed.

Regenerate deploy/kafka/topics.txt after editing topics.json:
    .venv/bin/python -m tests.unit.test_compose --write-topics-txt
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from services.registry import SERVICES
from shared.events.topics import TOPICS, dead_letter_topic, replay_topic
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
TOPICS_JSON = ROOT / "deploy" / "kafka" / "topics.json"
TOPICS_TXT = ROOT / "deploy" / "kafka" / "topics.txt"
CONSUMERS = ("routing", "sla", "notify")
"""The services that consume events, so have a dead-letter and a replay topic (``consumes=`` in main.py)."""

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; $$ is a literal $.
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")
REQUIRED_PLACEHOLDER = "required-value"


# ---- helpers ---------------------------------------------------------------------------------------
def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def services() -> dict[str, dict[str, Any]]:
    found = load_compose()["services"]
    assert isinstance(found, dict)
    return found


def with_defaults(value: object) -> str:
    """The value Compose would use with no variable set (required ones get a placeholder)."""

    def replace(m: re.Match[str]) -> str:
        op, arg = m.group("op") or "", m.group("arg") or ""
        if op in ("-", ":-"):
            return arg
        if op in ("?", ":?"):
            return REQUIRED_PLACEHOLDER
        return ""

    return INTERPOLATION.sub(replace, str(value)).replace("$$", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {k: v for k, v in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def lienthong_services() -> dict[str, dict[str, Any]]:
    """Compose services that run ``lienthong serve <name>``, by compose name."""
    return {
        name: svc
        for name, svc in services().items()
        if isinstance(svc.get("command"), list) and svc["command"][:1] == ["serve"]
    }


def one_shot_services() -> set[str]:
    """Jobs others wait for with ``service_completed_successfully``."""
    jobs: set[str] = set()
    for svc in services().values():
        depends = svc.get("depends_on") or {}
        if isinstance(depends, dict):
            jobs |= {n for n, d in depends.items() if d.get("condition") == "service_completed_successfully"}
    return jobs


def port_mappings(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(published, target) of each published port."""
    mappings: list[tuple[int, int]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            target, published = entry["target"], entry.get("published", entry["target"])
        else:
            parts = with_defaults(entry).split("/", 1)[0].rsplit(":", 2)
            target = parts[-1]
            published = parts[-2] if len(parts) >= 2 else target
        mappings.append((int(with_defaults(published)), int(with_defaults(target))))
    return mappings


def settings_field(key: str, settings_type: type[ServiceSettings]) -> str | None:
    """The settings field LIENTHONG_<FIELD> or LIENTHONG_<SERVICE>_<FIELD> names, or None."""
    key = key.upper()
    fields = {f.upper(): f for f in settings_type.model_fields}
    specific = f"LIENTHONG_{settings_type.service_name.upper()}_"
    if key.startswith(specific) and key.removeprefix(specific) in fields:
        return fields[key.removeprefix(specific)]
    return fields.get(key.removeprefix("LIENTHONG_")) if key.startswith("LIENTHONG_") else None


def image_tag(image: str) -> str | None:
    """The tag of an image reference (None when it has none); a digest counts as a tag."""
    if "@sha256:" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of each bind mount."""
    mounts: list[tuple[str, str]] = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((str(volume["source"]), str(volume["target"])))
            continue
        source, _, rest = str(volume).partition(":")
        if source.startswith((".", "/", "~")):
            mounts.append((source, rest.split(":", 1)[0]))
    return mounts


def named_volumes(service: dict[str, Any]) -> list[str]:
    """Names of the named volumes a service mounts (not bind mounts, tmpfs or anonymous volumes)."""
    names: list[str] = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "volume" and volume.get("source"):
                names.append(str(volume["source"]))
        elif ":" in str(volume) and not str(volume).startswith((".", "/", "~")):
            names.append(str(volume).split(":", 1)[0])
    return names


def load_topics() -> dict[str, Any]:
    data = json.loads(TOPICS_JSON.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def render_topics_txt(topics: dict[str, Any]) -> str:
    lines = [
        "# Generated from topics.json (.venv/bin/python -m tests.unit.test_compose --write-topics-txt); do not edit.",
        "# name partitions retention_ms",
    ]
    lines += [f"{t['name']} {t['partitions']} {t['retention_ms']}" for t in topics["topics"]]
    return "\n".join(lines) + "\n"


# ---- the file and the specification ----------------------------------------------------------------
def test_compose_file_parses_without_a_version_key() -> None:
    compose = load_compose()
    assert "version" not in compose, "the Compose specification has no top-level version"
    assert services(), "no services"
    assert {"kafka", "kafka-init", "postgres", "mailpit", *SERVICES} <= set(services())


def test_compose_file_validates_against_the_compose_specification() -> None:
    schema_text = (
        resources.files("check_jsonschema.builtin_schemas.vendor")
        .joinpath("compose-spec.json")
        .read_text(encoding="utf-8")
    )
    schema = json.loads(schema_text)
    validator_type = jsonschema.validators.validator_for(schema)
    validator_type.check_schema(schema)
    errors = sorted(validator_type(schema).iter_errors(load_compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def scalars(node: object) -> Iterator[str]:
    """Every key and string value of a parsed YAML document (comments are not interpolated)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from scalars(value)
    elif isinstance(node, list):
        for item in node:
            yield from scalars(item)
    elif isinstance(node, str):
        yield node


def test_every_variable_has_a_default_or_a_message() -> None:
    for text in scalars(load_compose()):
        bare = [m.group(0) for m in INTERPOLATION.finditer(text) if not m.group("op")]
        assert not bare, f"set a default (${{VAR:-x}}) or fail with a message (${{VAR:?why}}): {text}"
        rest = INTERPOLATION.sub("", text).replace("$$", "")
        assert "$" not in rest, f"use ${{VAR}}, or $$ for a literal $: {text}"


def test_secrets_come_from_the_environment() -> None:
    for name, svc in services().items():
        for key, value in environment(svc).items():
            if re.search(r"PASSWORD|TOKEN|SECRET", key, re.IGNORECASE):
                assert INTERPOLATION.fullmatch(value), f"{name}: {key} must come from the environment"
            url = urlsplit(value) if "://" in value else None
            if url is not None and url.password:
                assert INTERPOLATION.fullmatch(url.password), f"{name}: the password in {key} is written out"
                assert ":?" in url.password, f"{name}: the password in {key} must be required, not defaulted"


# ---- images, mounts, healthchecks ------------------------------------------------------------------
def test_every_image_has_an_exact_tag() -> None:
    for name, svc in services().items():
        assert "image" in svc, f"{name}: no image"
        image = with_defaults(svc["image"])
        tag = image_tag(image)
        assert tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} floats"
        if "build" not in svc:  # someone else's image: a full version, not a moving major/minor tag
            assert re.match(r"^(sha256:[0-9a-f]{64}|v?\d+\.\d+(\.\d+)?)", tag), f"{name}: {image} not exact"


def test_the_dockerfile_is_pinned_runs_unprivileged_and_checks_health() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    bases = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert bases, "no FROM"
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), f"base image {base} is not an exact tag"
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    assert re.search(r'^ENTRYPOINT \["lienthong"\]$', text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*/healthz", text, re.MULTILINE | re.DOTALL)
    assert "pip install --no-cache-dir ." in text


def test_bind_mounted_paths_and_build_contexts_exist() -> None:
    compose = load_compose()
    declared = set(compose.get("volumes") or {})
    for name, svc in services().items():
        if "build" in svc:
            context = svc["build"] if isinstance(svc["build"], str) else svc["build"].get("context", ".")
            assert (ROOT / context / "Dockerfile").is_file(), f"{name}: no Dockerfile in {context}"
        mounts = bind_mounts(svc)
        for source, _ in mounts:
            path = (ROOT / source).resolve()
            assert path.is_relative_to(ROOT), f"{name}: {source} is outside the repository"
            assert path.exists(), f"{name}: {source} does not exist"
        for source in named_volumes(svc):
            assert source in declared, f"{name}: volume {source} is not declared"
        # Container paths named in the command that lie in a bind mount exist in the repository.
        argv = [*(svc.get("entrypoint") or []), *(svc.get("command") or [])]
        for arg in (a for a in argv if isinstance(a, str) and a.startswith("/")):
            for source, target in mounts:
                if arg == target or arg.startswith(target.rstrip("/") + "/"):
                    host = ROOT / source / arg.removeprefix(target).lstrip("/")
                    assert host.exists(), f"{name}: {arg} is not in {source}"


def test_long_running_services_have_healthchecks_limits_and_a_restart_policy() -> None:
    jobs = one_shot_services()
    assert "kafka-init" in jobs
    for name, svc in services().items():
        if name in jobs:
            assert svc.get("restart", "no") in ("no", "on-failure"), f"{name}: a job must not restart"
            continue
        check = svc.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test {check['test']!r}"
        assert svc.get("restart") in ("unless-stopped", "always"), f"{name}: restart policy"
        limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
        assert {"cpus", "memory"} <= set(limits), f"{name}: no cpu/memory limits"
    for name, svc in services().items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services(), f"{name} depends on unknown {dep}"
            if cond.get("condition") == "service_healthy":
                assert "healthcheck" in services()[dep], f"{name} waits for {dep}, which has no healthcheck"


# ---- the lienthong services ------------------------------------------------------------------------
def test_every_registered_service_is_deployed_once_from_the_built_image() -> None:
    deployed = lienthong_services()
    assert sorted(svc["command"][1] for svc in deployed.values()) == sorted(SERVICES)
    for name, svc in deployed.items():
        assert svc["command"] == ["serve", name], f"{name}: command {svc['command']}"
        assert name in SERVICES
        assert svc.get("build") == "." and with_defaults(svc["image"]).startswith("lienthong:")
        depends = svc.get("depends_on") or {}
        assert depends.get("kafka", {}).get("condition") == "service_healthy"
        assert depends.get("postgres", {}).get("condition") == "service_healthy"
        assert depends.get("kafka-init", {}).get("condition") == "service_completed_successfully"
        assert "/readyz" in " ".join(svc["healthcheck"]["test"]), f"{name}: healthcheck is not /readyz"


def test_service_ports_match_the_settings_defaults() -> None:
    for name, svc in lienthong_services().items():
        settings_type = SERVICES[name].settings_type()
        env = {k.upper(): with_defaults(v) for k, v in environment(svc).items()}
        port = env.get(f"LIENTHONG_{name.upper()}_PORT") or env.get("LIENTHONG_PORT")
        assert port, f"{name}: LIENTHONG_PORT is not set"
        assert int(port) == settings_type.default_port, f"{name}: port {port} is not its default"
        assert port_mappings(svc) == [(int(port), int(port))], f"{name}: ports {svc.get('ports')}"
        assert env.get("LIENTHONG_HOST") == "0.0.0.0", f"{name}: must listen on every interface"


def test_every_lienthong_variable_is_a_settings_field() -> None:
    deployed = lienthong_services()
    for name, svc in services().items():
        settings_type = SERVICES[name].settings_type() if name in deployed else ServiceSettings
        for key in environment(svc):
            if key.upper().startswith("LIENTHONG_"):
                assert settings_field(key, settings_type), f"{name}: {key} is no {settings_type.__name__} field"


def test_the_compose_environment_loads_into_each_settings_class(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, svc in lienthong_services().items():
        with monkeypatch.context() as m:
            for key in [k for k in os.environ if k.upper().startswith("LIENTHONG_")]:
                m.delenv(key)
            for key, value in environment(svc).items():
                m.setenv(key, with_defaults(value))
            settings = SERVICES[name].settings_type()()
        assert settings.listen_port == SERVICES[name].settings_type().default_port
        assert settings.kafka_idempotent_producer, f"{name}: Apache Kafka supports idempotent producers"
        assert settings.database_url.startswith("postgresql+asyncpg://"), f"{name}: not PostgreSQL"


def test_endpoints_point_at_services_of_this_file() -> None:
    names = set(services())
    for name, svc in lienthong_services().items():
        env = {k.upper(): with_defaults(v) for k, v in environment(svc).items()}
        hosts = [h.rsplit(":", 1)[0] for h in env["LIENTHONG_KAFKA_BOOTSTRAP_SERVERS"].split(",")]
        hosts.append(urlsplit(env["LIENTHONG_DATABASE_URL"]).hostname or "")
        if name == "notify":
            hosts.append(env["LIENTHONG_NOTIFY_SMTP_HOST"])
            hosts.append(urlsplit(env["LIENTHONG_NOTIFY_SMS_GATEWAY_URL"]).hostname or "")
        for host in hosts:
            assert host in names, f"{name}: {host} is not a service of docker-compose.yml"
            assert host in (svc.get("depends_on") or {}), f"{name}: does not wait for {host}"


# ---- topics ----------------------------------------------------------------------------------------
def test_topics_txt_is_generated_from_topics_json() -> None:
    expected = render_topics_txt(load_topics())
    assert TOPICS_TXT.read_text(encoding="utf-8") == expected, (
        "deploy/kafka/topics.txt is out of date: "
        ".venv/bin/python -m tests.unit.test_compose --write-topics-txt\n" + expected
    )


def test_topics_json_covers_the_topic_catalogue() -> None:
    data = load_topics()
    topics = {t["name"]: t for t in data["topics"]}
    assert len(topics) == len(data["topics"]), "a topic is listed twice"
    for topic in TOPICS.values():
        assert topic.name in topics, f"{topic.name} missing from topics.json"
        assert topics[topic.name]["partitions"] == topic.partitions, f"{topic.name}: partition count"
    for consumer in CONSUMERS:
        assert consumer in SERVICES
        assert dead_letter_topic(consumer) in topics, f"no dead-letter topic for {consumer}"
        assert replay_topic(consumer) in topics, f"no replay topic for {consumer}"
    expected = set(TOPICS) | {f(c) for c in CONSUMERS for f in (dead_letter_topic, replay_topic)}
    assert set(topics) == expected, f"unexpected topics: {set(topics) - expected}"
    for t in topics.values():
        assert isinstance(t["partitions"], int) and t["partitions"] > 0
        assert isinstance(t["retention_ms"], int) and t["retention_ms"] > 0
        assert re.fullmatch(r"[a-z0-9._-]+", t["name"])
        assert str(data["why"].get(t["kind"], "")).strip(), f"{t['name']}: no 'why' for kind {t['kind']}"


def test_the_topic_job_uses_the_posix_shell() -> None:
    script = ROOT / "deploy" / "kafka" / "create-topics.sh"
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/sh\n")
    assert "jq" not in re.sub(r"#.*", "", text), "the apache/kafka image has no jq"
    init = services()["kafka-init"]
    assert init["image"] == services()["kafka"]["image"]
    assert init["entrypoint"][0] == "/bin/sh"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-topics-txt"]:
        TOPICS_TXT.write_text(render_topics_txt(load_topics()), encoding="utf-8")
        print(TOPICS_TXT)
    else:
        sys.exit(f"usage: python -m {__spec__.name if __spec__ else 'test_compose'} --write-topics-txt")
