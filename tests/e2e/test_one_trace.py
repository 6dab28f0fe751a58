"""One trace follows a dossier from the portal's POST through Kafka into routing, sla and notify, down to
the SMS operator's call. The services export their spans over OTLP/HTTP to a receiver in this test."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from services.devstack import DevStack
from tests.support.dossier_api import api, ok
from tests.support.infra import Broker
from tests.support.notify_api import notifications
from tests.support.stacks import running_stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    attributes: dict[str, str]


class Collector:
    """A minimal OTLP/HTTP trace receiver: keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.take(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()
                self.wfile.write(b"")

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    attributes = {a.key: a.value.string_value for a in s.attributes}
                    found.append(Span(resource.get("service.name", "?"), s.name, s.trace_id.hex(), attributes))
        with self._lock:
            self.spans.extend(found)

    def in_trace(self, trace_id: str) -> list[Span]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def named(self, service: str, name: str) -> list[Span]:
        with self._lock:
            return [s for s in self.spans if s.service == service and s.name == name]


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.server.shutdown()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker, collector: Collector) -> Iterator[DevStack]:
    env = {
        "LIENTHONG_TRACE_EXPORTER": "otlp",
        "LIENTHONG_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    with running_stack(tmp_path_factory.mktemp("one-trace"), broker, extra_env=env) as s:
        yield s


def test_one_trace_from_the_portals_post_to_the_sms_operator(stack: DevStack, collector: Collector) -> None:
    body = {
        "procedure_code": "1.012777.000.00.00.H56",
        "receiving_unit_code": "H56.101",
        "channel": "in_person",
        "applicant": {"full_name": "Lý Thị Thu", "phone": "0913000601", "notification_channels": ["sms"]},
    }
    with api(stack) as c:
        code = ok(c.post("/v1/dossiers", json=body), 201)["code"]
    sms = wait_until(lambda: [n for n in notifications(stack, code) if n["status"] in ("sent", "delivered")], 60)

    def the_trace() -> list[Span] | None:
        sends = [
            s
            for s in collector.named("lienthong-notify", "notify send sms")
            if s.attributes.get("lienthong.notification_id") == sms[0]["id"]
        ]
        if not sends:
            return None
        spans = collector.in_trace(sends[0].trace_id)
        services = {s.service for s in spans}
        wanted = {"lienthong-intake", "lienthong-routing", "lienthong-sla", "lienthong-notify"}
        return spans if wanted <= services else None

    spans = wait_until(the_trace, 60, "every service's spans in one trace")
    names = {(s.service, s.name) for s in spans}
    assert ("lienthong-intake", "POST /v1/dossiers") in names, sorted(names)
    # A request is one span: not one more for each ASGI message it received or sent ("… http send").
    post = [name for service, name in names if service == "lienthong-intake" and name.startswith("POST ")]
    assert post == ["POST /v1/dossiers"], post
    assert ("lienthong-routing", "dossier.accepted process") in names
    assert ("lienthong-sla", "dossier.accepted process") in names
    assert ("lienthong-notify", "dossier.accepted process") in names
    assert ("lienthong-notify", "notify send sms") in names
    # Every span of the dossier's handlers names it.
    handler_spans = [s for s in spans if s.name.endswith(" process")]
    assert handler_spans and all(s.attributes.get("lienthong.dossier_code") == code for s in handler_spans)
