"""Settings common to every service. Each service subclasses ``ServiceSettings`` once.

A value is read from ``LIENTHONG_<SERVICE>_<FIELD>`` first, then ``LIENTHONG_<FIELD>``, so the shared
infrastructure (broker, database) is configured once and a service can still be told apart.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from shared.calendar.configured import configured_calendar, parse_clock, parse_periods
from shared.calendar.schedule import DailySchedule
from shared.calendar.working_calendar import WorkingCalendar


class TraceExporter(StrEnum):
    NONE = "none"
    CONSOLE = "console"
    OTLP = "otlp"


class ServiceSettings(BaseSettings):
    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000

    model_config = SettingsConfigDict(env_prefix="LIENTHONG_", extra="ignore", validate_default=True)

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 means the service's default port.")
    database_url: str = Field(
        default="sqlite+aiosqlite:///var/{service}.db",
        description="SQLite: '{service}' is replaced by the service name (one file each). "
        "PostgreSQL: one database, a schema per service.",
    )
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_idempotent_producer: bool = Field(
        default=False, description="Turn on for Apache Kafka; the embedded broker does not support it."
    )
    kafka_client_id_suffix: str = ""
    kafka_verify_topics: bool = Field(
        default=False, description="Check topics before each publish; on for the embedded in-memory broker."
    )
    kafka_namespace: str = Field(
        default="", pattern=r"^[a-zA-Z0-9._-]*$", description="Prefix of topic and consumer group names."
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="How long a consumer's fetch may wait for data. Apache Kafka answers as soon as a record "
        "arrives; the embedded broker holds every fetch this long, so it is a floor on its delivery latency.",
    )
    outbox_poll_interval_s: float = Field(default=0.25, gt=0, le=60)
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    consumer_backoff_initial_s: float = Field(default=0.2, gt=0, le=60)
    consumer_backoff_max_s: float = Field(default=30.0, gt=0, le=3600)
    consumer_run_max_messages: int = Field(
        default=64, ge=1, le=1000, description="Messages applied in one transaction (1: a transaction each)."
    )
    consumer_run_max_ms: int = Field(
        default=250, ge=1, le=10_000, description="Time one transaction of the consumer may hold (SQLite's write lock)."
    )
    trace_exporter: TraceExporter = TraceExporter.NONE
    otlp_endpoint: str = "http://127.0.0.1:4318"
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    public_base_url: str = Field(default="", description="Base URL citizens and portals see.")
    rate_limit_per_s: float = Field(default=50.0, ge=0, description="Requests per second per API key; 0: no limit.")
    rate_limit_burst: int = Field(default=200, ge=1)
    catalog_dir: str = Field(default="", description="Catalogue directory (units, procedures); default the sample.")
    working_periods: str = Field(
        default="07:00-11:30,13:30-17:00",
        description="Working periods of a working day, Vietnam time (HH:MM-HH:MM, comma-separated).",
    )
    intake_cutoff: str = Field(
        default="15:00", description="A dossier accepted after this time starts its clock the next working day."
    )
    round_the_clock: bool = Field(
        default=False,
        description="Drills and load runs only (lienthong load, make chaos): every day and minute is working "
        "time, so steps move at any hour. Never in production: deadlines would be wrong.",
    )
    bootstrap_keys_file: str = Field(
        default="", description="JSON list of {name, key, scopes} installed at start-up (development only)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        specific = EnvSettingsSource(settings_cls, env_prefix=f"LIENTHONG_{cls.service_name.upper()}_")
        return init_settings, specific, env_settings, file_secret_settings

    @model_validator(mode="after")
    def _calendar_is_valid(self) -> Self:
        DailySchedule.of(parse_periods(self.working_periods))  # bad periods or cutoff stop the service at start-up
        parse_clock(self.intake_cutoff, "intake cutoff")
        return self

    def working_calendar(self, overrides: Path | None) -> WorkingCalendar:
        """The configured calendar, with a catalogue's overrides file."""
        return configured_calendar(
            overrides,
            working_periods=self.working_periods,
            intake_cutoff=self.intake_cutoff,
            round_the_clock=self.round_the_clock,
        )

    @property
    def listen_port(self) -> int:
        return self.port or self.default_port

    @property
    def service_database_url(self) -> str:
        return self.database_url.replace("{service}", self.service_name)

    @classmethod
    def load(cls) -> Self:
        """Read the environment, or stop the process with a message naming each bad value."""
        try:
            return cls()
        except ValidationError as exc:
            lines = [f"lienthong {cls.service_name}: invalid settings:"]
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"])
                env = f"LIENTHONG_{field.upper()}"
                lines.append(f"  {env} (or LIENTHONG_{cls.service_name.upper()}_{field.upper()}): {err['msg']}")
            print("\n".join(lines), file=sys.stderr)
            raise SystemExit(2) from None
