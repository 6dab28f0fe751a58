"""Event envelope and the documents generated from the models."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import jsonschema
import pytest

from shared.events import EVENT_TYPES, Envelope, new_envelope
from shared.events.dossier import Channel, Contact, DossierAccepted
from shared.events.schema_export import DOCS_DIR, asyncapi_document, event_schema, rendered_documents
from shared.events.step import RoutePlanned
from shared.events.topics import TOPICS, consumed_by

ACCEPTED = DossierAccepted(
    procedure_code="1.003560.000.00.00.H56",
    receiving_unit_code="H56.14",
    channel=Channel.POSTAL,
    applicant=Contact(full_name="Lê Văn Cường", phone="0912345678"),
    received_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
)


def test_an_envelope_survives_the_wire() -> None:
    event = new_envelope(
        type="dossier.accepted", dossier_code="H56.14-261123-0001", producer="intake", payload=ACCEPTED
    )
    again = Envelope.from_bytes(event.to_bytes())
    assert again == event
    assert DossierAccepted.model_validate(again.payload) == ACCEPTED
    assert again.occurred_at.tzinfo is not None


def test_a_payload_of_the_wrong_model_is_refused() -> None:
    with pytest.raises(TypeError, match="expects a DossierAccepted"):
        new_envelope(
            type="dossier.accepted",
            dossier_code="X",
            producer="intake",
            payload=RoutePlanned(procedure_code="p", steps=[]),
        )


def test_naive_times_are_refused() -> None:
    raw = json.loads(
        new_envelope(type="dossier.accepted", dossier_code="X", producer="intake", payload=ACCEPTED).to_bytes()
    )
    raw["occurred_at"] = "2026-11-23T08:00:00"
    with pytest.raises(ValueError, match="timezone"):
        Envelope.model_validate(raw)


def test_committed_schema_documents_match_the_code() -> None:
    """Fails when a model changes and ``lienthong schemas export`` was not run."""
    expected = rendered_documents()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in DOCS_DIR.glob("*.json")}
    assert sorted(on_disk) == sorted(expected)
    for name, content in expected.items():
        assert on_disk[name] == content, f"{name} is out of date: run `lienthong schemas export`"


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_every_event_schema_accepts_its_event_and_rejects_another_type(type_name: str) -> None:
    schema = event_schema(EVENT_TYPES[type_name])
    jsonschema.Draft202012Validator.check_schema(schema)
    if type_name == "dossier.accepted":
        event = json.loads(
            new_envelope(type=type_name, dossier_code="X", producer="intake", payload=ACCEPTED).to_bytes()
        )
        jsonschema.validate(event, schema)
        event["type"] = "dossier.refused"
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(event, schema)
    assert schema["properties"]["type"] == {"const": type_name, "title": "Type"}


def test_the_asyncapi_document_lists_every_topic_and_event() -> None:
    doc = asyncapi_document()
    assert set(doc["channels"]) == set(TOPICS)
    assert {m["name"] for m in doc["components"]["messages"].values()} == set(EVENT_TYPES)
    for spec in EVENT_TYPES.values():
        assert f"{spec.name}.v{spec.version}" in doc["channels"][spec.topic.name]["messages"]


def test_event_ids_are_unique() -> None:
    ids = {
        new_envelope(type="dossier.accepted", dossier_code="X", producer="intake", payload=ACCEPTED).event_id
        for _ in range(100)
    }
    assert len(ids) == 100 and all(isinstance(i, uuid.UUID) for i in ids)


def test_every_topic_is_read_by_other_services_and_each_service_reads_what_it_needs() -> None:
    services = {"intake", "routing", "sla", "notify"}
    for topic in TOPICS.values():
        assert topic.consumers and set(topic.consumers) <= services, topic.name
        assert topic.producer not in topic.consumers, f"{topic.producer} reads its own {topic.name}"
    assert consumed_by("routing") == ["intake.dossier.v1"]  # it forwards what intake accepts
    assert consumed_by("notify") == ["intake.dossier.v1", "routing.step.v1", "sla.clock.v1"]
    assert "notify.delivery.v1" in consumed_by("intake"), "intake shows the citizen's delivery statuses"
