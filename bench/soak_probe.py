"""What the soak reads from the running stack, from the outside as an operator would, every few seconds:
each service's resident memory (/proc), intake's own histogram of POST /v1/dossiers and count of dossiers
filed (its /metrics), and, from intake's and notify's databases (read-only), how long each dossier took from
its acceptance to the first message sent to its citizen about it."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.pipeline_bench import SERVICES, memory_mb
from bench.soak_trend import Buckets, Sample, bucket_delta
from services.devstack import DevStack

FILING = {"service": "intake", "method": "POST", "route": "/v1/dossiers"}
OVERLAP = timedelta(seconds=60)
"""How far back each read of notify's table looks again: a transaction that committed late still counts."""


def filing_metrics(text: str) -> tuple[Buckets, int]:
    """Intake's cumulative latency histogram of POST /v1/dossiers and its count of 201 answers."""
    buckets: list[tuple[float, float]] = []
    filed = 0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if any(s.labels.get(k) != v for k, v in FILING.items()):
                continue
            if s.name == "lienthong_http_request_duration_seconds_bucket":
                buckets.append((float(s.labels["le"]), s.value))
            elif s.name == "lienthong_http_requests_total" and s.labels.get("status") == "201":
                filed += int(s.value)
    return tuple(sorted(buckets)), filed


def _instant(at: str) -> datetime:
    return datetime.fromisoformat(at).replace(tzinfo=UTC)  # SQLite keeps naive UTC


def _read(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        return [(str(a), str(b)) for a, b in db.execute(sql, params).fetchall()]


class NotifiedLatency:
    """Each dossier's time from acceptance (intake's ``accepted_at``) to the first `sent` of a citizen message
    that `dossier.accepted` caused (notify's events), each dossier counted once, in the window in which that
    message was sent. Only those messages: a dossier filed by post has its citizen told of the pickup order
    before the desk accepts it."""

    def __init__(self, intake_db: Path, notify_db: Path) -> None:
        self.intake_db, self.notify_db = intake_db, notify_db
        self.seen: set[str] = set()
        self.since = datetime(1970, 1, 1, tzinfo=UTC)

    def new(self) -> list[float]:
        if not (self.intake_db.exists() and self.notify_db.exists()):
            return []
        sent = _read(
            self.notify_db,
            "SELECT n.dossier_code, MIN(e.at) FROM notification n JOIN notification_event e "
            "ON e.notification_id = n.id WHERE n.audience = 'citizen' AND n.event_type = 'dossier.accepted' "
            "AND e.status = 'sent' AND e.at >= ? "
            "GROUP BY n.dossier_code",
            ((self.since - OVERLAP).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"),),
        )
        first = {code: _instant(at) for code, at in sent if code not in self.seen}
        if sent:
            self.since = max(self.since, *(_instant(at) for _, at in sent))
        found: list[float] = []
        codes = sorted(first)
        for i in range(0, len(codes), 500):
            chunk = codes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for code, accepted in _read(
                self.intake_db,
                f"SELECT code, accepted_at FROM dossier WHERE accepted_at IS NOT NULL AND code IN ({marks})",
                tuple(chunk),
            ):
                found.append((first[code] - _instant(accepted)).total_seconds() * 1000)
                self.seen.add(code)
        return found


class Probe:
    def __init__(self, stack: DevStack) -> None:
        self.stack = stack
        self.metrics_url = f"{stack.config.url('intake')}/metrics"
        self.latency = NotifiedLatency(stack.var / "intake.db", stack.var / "notify.db")
        self.last_buckets: Buckets = ()
        # A fresh connection a scrape: uvicorn closes a keep-alive connection idle for 5 s, and a scrape every
        # 5 s would meet it closing ("Server disconnected without sending a response").
        self.client = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))

    def rss(self) -> dict[str, float]:
        return {name: round(memory_mb(self.stack.procs[name].pid, "VmRSS"), 1) for name in SERVICES}

    async def sample(self, t: float) -> Sample:
        rss = self.rss()
        buckets, filed = filing_metrics(await self.scrape())
        window = bucket_delta(buckets, self.last_buckets)
        self.last_buckets = buckets
        notified = await asyncio.to_thread(self.latency.new)
        return Sample(t=round(t, 1), rss_mb=rss, filed=filed, filing=window, notified_ms=notified)

    async def scrape(self, attempts: int = 3) -> str:
        """Intake's /metrics; a busy moment is retried, an intake that stays away ends the soak."""
        for attempt in range(1, attempts + 1):
            try:
                response = await self.client.get(self.metrics_url)
                response.raise_for_status()
                return response.text
            except httpx.HTTPError:
                if attempt == attempts:
                    raise
                await asyncio.sleep(attempt)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self.client.aclose()
