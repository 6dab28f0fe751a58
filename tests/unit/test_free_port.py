"""The development stack gives each service a port outside the kernel's ephemeral range, so an outgoing
connection (a service's to the broker) cannot take it before the service binds it or while it restarts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from services.devstack import free_port

RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


@pytest.mark.skipif(not RANGE.exists(), reason="Linux's ephemeral port range")
def test_ports_lie_below_the_ephemeral_range() -> None:
    ephemeral_start = int(RANGE.read_text().split()[0])
    assert all(free_port() < ephemeral_start for _ in range(50))


def test_a_port_is_handed_out_once() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)


def test_a_port_in_use_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        taken = listening.getsockname()[1]
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            spare = closed.getsockname()[1]
        draws = iter([taken, taken, spare])
        monkeypatch.setattr("services.devstack.random.randrange", lambda *_: next(draws))
        port = free_port()
    assert port == spare
