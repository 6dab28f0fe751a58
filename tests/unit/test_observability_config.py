"""The Grafana dashboards and the Prometheus configuration agree with the metrics the code exposes.

No network and no Prometheus: the dashboards and rule files are read as data, every metric name in their
PromQL is checked against the metrics the services register (prometheus_client's REGISTRY), the recording
rules, ``up`` and the ``process_*`` metrics. When ``promtool`` is on the PATH, the configuration, the rules
and the alert unit tests (deploy/prometheus/rules/alerts_test.yml) are run through it as well.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
PROMETHEUS = ROOT / "deploy" / "prometheus"
PROMETHEUS_YML = PROMETHEUS / "prometheus.yml"
RECORDING = PROMETHEUS / "rules" / "recording.yml"
ALERTS = PROMETHEUS / "rules" / "alerts.yml"
ALERTS_TEST = PROMETHEUS / "rules" / "alerts_test.yml"
COMPOSE_FILE = ROOT / "docker-compose.yml"

METRIC_MODULES = (
    "services.intake.main",
    "services.routing.main",
    "services.sla.main",
    "services.notify.main",
    "shared.bus.metrics",
)
EXPECTED_DASHBOARDS = {"dieu-hanh.json", "don-vi.json", "thong-bao.json", "nen-tang.json"}
DATASOURCE_UID = "prometheus"

# Letters that only Vietnamese text has (vowels with their tone marks and đ), in both cases.
VIETNAMESE = set(
    "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴĐ"
)

# PromQL functions, aggregations and keywords that the expressions here may use. An identifier followed by
# "(" is a function call anyway; the set also covers "sum by (…) (…)" and the binary keywords.
PROMQL_WORDS = frozenset(
    {
        "abs",
        "absent",
        "and",
        "avg",
        "avg_over_time",
        "bool",
        "by",
        "ceil",
        "clamp_max",
        "clamp_min",
        "count",
        "count_over_time",
        "day_of_week",
        "delta",
        "deriv",
        "floor",
        "group",
        "group_left",
        "group_right",
        "histogram_quantile",
        "hour",
        "ignoring",
        "increase",
        "irate",
        "label_replace",
        "le",
        "max",
        "max_over_time",
        "min",
        "min_over_time",
        "offset",
        "on",
        "or",
        "quantile",
        "rate",
        "round",
        "scalar",
        "sort",
        "sort_desc",
        "sum",
        "time",
        "topk",
        "bottomk",
        "unless",
        "vector",
        "without",
    }
)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: strings, label matchers, ranges and grouping label lists are
    removed first, then every identifier that is not a function call or a PromQL word is a metric."""
    text = _STRING.sub('""', expr)
    text = _BRACES.sub("{}", text)
    text = _BRACKETS.sub("[]", text)
    text = _GROUPING.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name not in PROMQL_WORDS}


def test_metric_names_extraction() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (service, le) (rate(foo_bucket{service=~"$service", le!="1.0"}'
        "[$__rate_interval]))) / on (service) group_left (route) bar offset 1h > bool 0"
        " or vector(0) and on () (hour() < 10) unless lienthong:x:rate5m"
    )
    assert metric_names(expr) == {"foo_bucket", "bar", "lienthong:x:rate5m"}
    assert metric_names("sum(up)") == {"up"}
    assert metric_names("1 - (a / b)") == {"a", "b"}


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dashboards() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, json.loads(path.read_text(encoding="utf-8"))) for path in DASHBOARDS]


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # panels folded into a collapsed row


def _rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in _load_yaml(path)["groups"] for rule in group["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in _rules(ALERTS) if "alert" in rule]


def _variable_metric(query: str) -> str:
    """The metric of a Grafana ``label_values(metric{…}, label)`` variable query."""
    match = re.fullmatch(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*(?:\{[^{}]*\})?\s*,\s*\w+\s*\)", query.strip())
    assert match, f"unexpected variable query {query!r}"
    return match.group(1)


def _expressions() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every dashboard target and every recording and alerting rule."""
    for name, dashboard in _dashboards():
        for panel in _panels(dashboard):
            for target in panel.get("targets", []):
                yield f"{name}: {panel['title']} ({target.get('refId')})", target["expr"]
    for path in (RECORDING, ALERTS):
        for rule in _rules(path):
            yield f"{path.name}: {rule.get('record') or rule.get('alert')}", rule["expr"]


@pytest.fixture(scope="module")
def exposed_metrics() -> set[str]:
    """Every sample name the four services can expose, as prometheus_client writes it."""
    from prometheus_client import REGISTRY

    for module in METRIC_MODULES:
        importlib.import_module(module)  # registers its metrics
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "gauge": ("",),
        "info": ("_info",),
    }
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


@pytest.fixture(scope="module")
def recorded() -> set[str]:
    return {rule["record"] for rule in _rules(RECORDING) if "record" in rule}


# ---- Grafana ------------------------------------------------------------------------------------------


def test_dashboards_are_there_with_unique_uid_and_title() -> None:
    dashboards = _dashboards()
    assert {name for name, _ in dashboards} == EXPECTED_DASHBOARDS
    uids = [d["uid"] for _, d in dashboards]
    titles = [d["title"] for _, d in dashboards]
    assert len(set(uids)) == len(uids), uids
    assert len(set(titles)) == len(titles), titles
    for name, d in dashboards:
        assert re.fullmatch(r"[a-z0-9-]{1,40}", d["uid"]), (name, d["uid"])
        assert d["schemaVersion"] == 39, name
        assert d.get("id") is None, f"{name}: a provisioned dashboard carries no database id"
        assert set(d["title"]) & VIETNAMESE, f"{name}: title {d['title']!r} is not Vietnamese"
        text = json.dumps(d)
        assert "dashboardId" not in text and "/d/" not in text, f"{name}: refers to another dashboard by id"


@pytest.mark.parametrize(("name", "dashboard"), _dashboards(), ids=[p.name for p in DASHBOARDS])
def test_panels_are_vietnamese_with_english_description(name: str, dashboard: dict[str, Any]) -> None:
    panels = list(_panels(dashboard))
    assert panels, name
    ids = [p["id"] for p in panels]
    assert len(set(ids)) == len(ids), f"{name}: panel ids repeat"
    for panel in panels:
        title = panel["title"]
        assert set(title) & VIETNAMESE, f"{name}: panel title {title!r} has no Vietnamese letter"
        if panel["type"] == "row":
            continue
        description = panel.get("description", "")
        assert " — " in description, f"{name}: {title}: description must be 'Vietnamese — English'"
        vietnamese, english = description.rsplit(" — ", 1)
        assert set(vietnamese) & VIETNAMESE, f"{name}: {title}: the description's first part is not Vietnamese"
        assert english.isascii() and re.search(r"[A-Za-z]{3,}", english), (
            f"{name}: {title}: the description must end in English, got {english!r}"
        )


@pytest.mark.parametrize(("name", "dashboard"), _dashboards(), ids=[p.name for p in DASHBOARDS])
def test_every_query_uses_the_prometheus_datasource(name: str, dashboard: dict[str, Any]) -> None:
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, f"{name}: {panel['title']}"
        assert panel["targets"], f"{name}: {panel['title']} has no query"
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"])["uid"] == DATASOURCE_UID, f"{name}: {panel['title']}"
            assert target["expr"].strip(), f"{name}: {panel['title']}"
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == DATASOURCE_UID, f"{name}: ${variable['name']}"


@pytest.mark.parametrize(("name", "dashboard"), _dashboards(), ids=[p.name for p in DASHBOARDS])
def test_panels_do_not_overlap(name: str, dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, f"{name}: {panel['title']} is wider than the grid"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{name}: {panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize(("name", "dashboard"), _dashboards(), ids=[p.name for p in DASHBOARDS])
def test_template_variables_are_used_and_come_from_real_metrics(
    name: str, dashboard: dict[str, Any], exposed_metrics: set[str], recorded: set[str]
) -> None:
    text = json.dumps([t["expr"] for p in _panels(dashboard) for t in p.get("targets", [])])
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        metric = _variable_metric(query)
        assert metric in exposed_metrics | recorded | {"up"}, f"{name}: ${variable['name']} reads unknown {metric}"
        assert f"${variable['name']}" in text, f"{name}: ${variable['name']} is never used"


def test_don_vi_has_the_unit_variable() -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / "don-vi.json").read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert _variable_metric(variables["unit"]["query"]["query"]).startswith("lienthong_sla_")


def test_grafana_provisioning() -> None:
    datasources = _load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yaml")["datasources"]
    [prometheus] = [d for d in datasources if d["type"] == "prometheus"]
    assert prometheus["uid"] == DATASOURCE_UID
    assert prometheus["url"] == "http://prometheus:9090"
    providers = _load_yaml(GRAFANA / "provisioning" / "dashboards" / "lienthong.yaml")["providers"]
    [provider] = providers
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


# ---- metric names -------------------------------------------------------------------------------------


def test_every_metric_in_promql_exists(exposed_metrics: set[str], recorded: set[str]) -> None:
    unknown: list[str] = []
    seen = 0
    for where, expr in _expressions():
        names = metric_names(expr)
        assert names, f"{where}: no metric found in {expr!r}"
        seen += 1
        for name in sorted(names):
            if name in recorded or name == "up" or name.startswith("process_") or name in exposed_metrics:
                continue
            unknown.append(f"{where}: {name}")
    assert seen > 50
    assert not unknown, "metrics that no service exposes and no rule records:\n" + "\n".join(unknown)


def test_recording_rules_are_named_and_not_circular(exposed_metrics: set[str]) -> None:
    rules = [r for r in _rules(RECORDING) if "record" in r]
    names = [r["record"] for r in rules]
    assert len(set(names)) == len(names), "a recording rule is defined twice"
    defined: set[str] = set()
    for rule in rules:
        assert re.fullmatch(r"lienthong:[a-z0-9_]+:[a-z0-9_]+", rule["record"]), rule["record"]
        for name in metric_names(rule["expr"]):
            if name.startswith("lienthong:"):
                assert name in defined, f"{rule['record']} uses {name} before it is recorded"
        defined.add(rule["record"])


def test_dashboards_use_the_recording_rules(recorded: set[str]) -> None:
    used = {
        name
        for _, dashboard in _dashboards()
        for panel in _panels(dashboard)
        for target in panel.get("targets", [])
        for name in metric_names(target["expr"])
    }
    feeding = {name for rule in _rules(RECORDING) for name in metric_names(rule["expr"])}
    assert recorded <= used | feeding, f"recording rules nothing uses: {sorted(recorded - used - feeding)}"


# ---- Prometheus ---------------------------------------------------------------------------------------


def test_alerts_have_severity_and_annotations() -> None:
    alerts = _alerts()
    assert len(alerts) >= 7
    names = [a["alert"] for a in alerts]
    assert len(set(names)) == len(names)
    for alert in alerts:
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}, name
        annotations = alert["annotations"]
        for key in ("summary", "description", "runbook"):
            assert str(annotations.get(key, "")).strip(), f"{name}: no {key}"
        assert set(annotations["summary"]) & VIETNAMESE, f"{name}: the summary is not Vietnamese"
        assert " — " in annotations["description"], f"{name}: description must be 'Vietnamese — English'"
        assert re.search(r"^1\. ", annotations["runbook"], re.MULTILINE), f"{name}: the runbook has no steps"


def test_dead_letter_alert_names_the_cli() -> None:
    [alert] = [a for a in _alerts() if "lienthong_dead_letters_pending" in metric_names(a["expr"])]
    assert "lienthong dead-letters list --service" in alert["annotations"]["runbook"]
    assert "lienthong dead-letters replay --service" in alert["annotations"]["runbook"]


def test_alert_unit_tests_cover_every_alert() -> None:
    doc = _load_yaml(ALERTS_TEST)
    assert [(ALERTS_TEST.parent / f).resolve() for f in doc["rule_files"]] == [ALERTS.resolve()]
    fired: set[str] = set()
    quiet: set[str] = set()
    for test in doc["tests"]:
        assert test["input_series"], test.get("name")
        for case in test.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {a["alert"] for a in _alerts()}
    assert names <= fired, f"alerts no test fires: {sorted(names - fired)}"
    assert names <= quiet, f"alerts with no case where they stay quiet: {sorted(names - quiet)}"
    assert (fired | quiet) <= names, f"tests name unknown alerts: {sorted((fired | quiet) - names)}"


def test_prometheus_scrapes_the_four_services() -> None:
    from services.registry import SERVICES

    config = _load_yaml(PROMETHEUS_YML)
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS / rule_file).is_file(), rule_file
    assert {(PROMETHEUS / f).resolve() for f in config["rule_files"]} == {RECORDING.resolve(), ALERTS.resolve()}
    [job] = config["scrape_configs"]
    assert job["job_name"] == "lienthong"
    assert job.get("scrape_interval", config["global"]["scrape_interval"]) == "15s"
    compose = _load_yaml(COMPOSE_FILE)["services"]
    targets: dict[str, str] = {}
    for static in job["static_configs"]:
        [target] = static["targets"]
        targets[static["labels"]["service"]] = target
    assert set(targets) == set(SERVICES)
    for service, target in targets.items():
        port = compose[service]["environment"]["LIENTHONG_PORT"]
        assert target == f"{service}:{port}", (service, target)


# ---- promtool, when installed -------------------------------------------------------------------------


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed")
    return found


@pytest.mark.parametrize(
    "args",
    [
        ["check", "config", str(PROMETHEUS_YML)],
        ["test", "rules", str(ALERTS_TEST)],
    ],
    ids=["check-config", "test-rules"],
)
def test_promtool(args: list[str]) -> None:
    result = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_collector_pipeline_uses_only_what_it_defines() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "otel" / "collector.yaml").read_text(encoding="utf-8"))
    traces = config["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        assert set(traces[kind]) <= set(config[kind]), kind
    assert set(config["service"]["extensions"]) <= set(config["extensions"])
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
