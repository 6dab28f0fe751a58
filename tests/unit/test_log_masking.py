"""No personal ID number, phone number or email address reaches a log line; the identifiers operators
need (dossier codes, event ids, tracking numbers, trace ids) stay readable."""

from __future__ import annotations

import json
import logging
import sys
import uuid

import pytest
from opentelemetry.sdk.trace import TracerProvider

from shared.log_masking import mask_personal_data
from shared.observability import DOSSIER_ATTRIBUTE, JsonLogFormatter


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("SMS to 0912345678 failed", "SMS to *******678 failed"),
        ("from 84912345678", "from ********678"),
        ("from +84 912 345 678", "from ********678"),
        ("phone 0912.345.678", "phone *******678"),
        ("desk line 02433456789", "desk line ********789"),
        ("CCCD 001203004567 refused", "CCCD *********567 refused"),
        ("CMND 123456789", "CMND ******789"),
        ("mail to bich.tran@example.vn bounced", "mail to b***@example.vn bounced"),
    ],
)
def test_personal_data_is_masked(raw: str, masked: str) -> None:
    assert mask_personal_data(raw) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "dossier H56.101-261202-0012 accepted",
        "procedure 1.003560.000.00.00.H56",
        f"notification {uuid.UUID('12345678-1234-5678-1234-567812345678')}",
        "tracking number EL123456785VN",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "took 120000 ms over 3 attempts at 2026-12-02T19:30:00Z",
        "sla.clock.v1[5]@123456789012",
    ],
)
def test_identifiers_operators_need_stay_readable(kept: str) -> None:
    assert mask_personal_data(kept) == kept


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("notify.sender", logging.WARNING, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_a_log_line_is_json_with_the_trace_and_the_dossier_and_no_phone_number() -> None:
    formatter = JsonLogFormatter("notify")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("send") as span:
        line = formatter.format(record("SMS to %s failed", "0987654321", dossier_code="H56.101-261202-0001"))
        trace_id = format(span.get_span_context().trace_id, "032x")
    entry = json.loads(line)
    assert entry["msg"] == "SMS to *******321 failed" and "0987654321" not in line
    assert entry["trace_id"] == trace_id and entry["dossier_code"] == "H56.101-261202-0001"
    assert (entry["service"], entry["level"], entry["logger"]) == ("notify", "WARNING", "notify.sender")


def test_an_exception_in_the_log_is_masked_too() -> None:
    formatter = JsonLogFormatter("intake")
    try:
        raise ValueError("bad applicant 001203004567 / an.nguyen@example.vn")
    except ValueError:
        rec = logging.LogRecord("intake", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = formatter.format(rec)
    assert "001203004567" not in line and "an.nguyen@" not in line
    assert "*********567" in json.loads(line)["exc"]


def test_a_handlers_log_lines_carry_the_dossier_its_span_names() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span(
        "dossier.accepted process", attributes={DOSSIER_ATTRIBUTE: "H56.101-261202-0002"}
    ):
        line = JsonLogFormatter("notify").format(record("no contact known"))
    assert json.loads(line)["dossier_code"] == "H56.101-261202-0002"
