"""Settings: a service-specific variable wins over the shared one; a bad value stops start-up clearly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.notify.settings import NotifySettings
from services.routing.settings import RoutingSettings


def test_service_specific_variables_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("LIENTHONG_PORT", "9000")
    monkeypatch.setenv("LIENTHONG_NOTIFY_PORT", "9004")
    assert NotifySettings().listen_port == 9004
    assert RoutingSettings().listen_port == 9000
    assert NotifySettings().kafka_bootstrap_servers == "kafka:9092"
    assert RoutingSettings().service_database_url == "sqlite+aiosqlite:///var/routing.db"


def test_defaults_give_each_service_its_port() -> None:
    assert NotifySettings().listen_port == 8004 and RoutingSettings().listen_port == 8002


def test_a_bad_value_stops_the_service_with_the_variable_named() -> None:
    env = {**os.environ, "LIENTHONG_SLA_PORT": "eighty", "LIENTHONG_LOG_LEVEL": "LOUD"}
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "sla"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "LIENTHONG_PORT (or LIENTHONG_SLA_PORT)" in result.stderr
    assert "LIENTHONG_LOG_LEVEL" in result.stderr


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://api.postal-operator.example/v1", True),
        ("http://127.0.0.1:8090/postal", False),
        ("http://sms-sandbox:8090/postal", False),
    ],
)
def test_a_real_operator_with_the_sandbox_secret_stops_notify(url: str, refused: bool) -> None:
    if refused:
        with pytest.raises(ValueError, match="LIENTHONG_NOTIFY_POSTAL_WEBHOOK_SECRET must be set"):
            NotifySettings(postal_api_url=url)
    else:
        assert NotifySettings(postal_api_url=url).postal_api_url == url
    assert NotifySettings(postal_api_url=url, postal_webhook_secret="s3cret-from-the-vault").postal_api_url == url
