"""A real Prometheus (Debian's package) scraping a running stack every second with the project's recording
and alert rules, and the dashboards' queries as Grafana would send them."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from services.devstack import DevStack, free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
SERVICES = ("intake", "routing", "sla", "notify")

# Grafana's built-in variables, as an instant query over the last hour would expand them.
BUILT_INS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}
ALL = ".+"  # what Grafana sends for a multi-value variable set to "All"


def scrape_config(stack: DevStack) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with the stack's ports for the compose names and one-second cycles."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(RULES / Path(f).name) for f in config["rule_files"]]
    (job,) = config["scrape_configs"]
    job["scrape_interval"] = "1s"
    for target in job["static_configs"]:
        service = target["labels"]["service"]
        target["targets"] = [f"127.0.0.1:{stack.config.ports[service]}"]
    return config


@dataclass
class Prometheus:
    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=30)
        body: dict[str, Any] = response.json()
        assert response.status_code == 200 and body["status"] == "success", f"{expr}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def values(self, expr: str) -> dict[str, float]:
        """Each series' value keyed by its labels (``a=x,b=y``); NaN and infinities left out."""
        found: dict[str, float] = {}
        for series in self.query(expr):
            value = float(series["value"][1])
            if math.isfinite(value):
                found[",".join(f"{k}={v}" for k, v in sorted(series["metric"].items()))] = value
        return found

    def by(self, expr: str, label: str) -> dict[str, float]:
        """Each series' finite value keyed by one of its labels."""
        found: dict[str, float] = {}
        for series in self.query(expr):
            value = float(series["value"][1])
            if math.isfinite(value) and label in series["metric"]:
                found[series["metric"][label]] = value
        return found

    def label_values(self, metric: str, label: str) -> list[str]:
        response = httpx.get(f"{self.url}/api/v1/label/{label}/values", params={"match[]": metric}, timeout=30)
        values: list[str] = response.json()["data"]
        return values

    def targets_up(self) -> dict[str, str]:
        active = httpx.get(f"{self.url}/api/v1/targets", timeout=30).json()["data"]["activeTargets"]
        return {t["labels"]["service"]: t["health"] for t in active}

    def rule_health(self) -> dict[str, str]:
        groups = httpx.get(f"{self.url}/api/v1/rules", timeout=30).json()["data"]["groups"]
        return {r["name"]: r["health"] for g in groups for r in g["rules"]}


@contextmanager
def running_prometheus(stack: DevStack, workdir: Path) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus not found: make ops-tools (Debian's prometheus package)"
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(stack), sort_keys=False), encoding="utf-8")
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    prometheus = Prometheus(f"http://127.0.0.1:{port}")
    try:

        def ready() -> bool:
            assert process.poll() is None, f"prometheus exited: {(workdir / 'prometheus.log').read_text()}"
            try:
                return httpx.get(f"{prometheus.url}/-/ready", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, 60, "prometheus to be ready")
        yield prometheus
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}"


def dashboard_queries() -> list[PanelQuery]:
    """Every panel target of every dashboard, with the dashboard's variables set to All."""
    found: list[PanelQuery] = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        variables = {f"${v['name']}": ALL for v in dashboard.get("templating", {}).get("list", [])}
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                found.append(PanelQuery(path.stem, panel["title"], target["refId"], expand(target["expr"], variables)))
    return found


def dashboard_variables() -> list[tuple[str, str, str, str]]:
    """(dashboard, variable, metric selector, label) of every ``label_values(selector, label)`` variable."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for v in dashboard.get("templating", {}).get("list", []):
            query = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            inner = query.removeprefix("label_values(").removesuffix(")")
            selector, label = (part.strip() for part in inner.rsplit(",", 1))
            found.append((path.stem, v["name"], expand(selector, {f"${n}": ALL for n in ("unit", "level")}), label))
    return found


def expand(expr: str, variables: dict[str, str]) -> str:
    for name, value in sorted({**BUILT_INS, **variables}.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    assert "$" not in expr, f"a variable is left in {expr!r}"
    return expr
