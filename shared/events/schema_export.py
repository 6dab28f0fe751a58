"""JSON Schema of every event and the AsyncAPI document of the bus, generated from the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.events.envelope import Envelope
from shared.events.registry import EVENT_TYPES, EventType
from shared.events.topics import TOPICS

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs" / "events"


def event_schema(spec: EventType) -> dict[str, Any]:
    """The envelope's schema with ``type``, ``version`` and ``payload`` narrowed to this event."""
    schema = Envelope.model_json_schema()
    payload = spec.payload.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**schema.pop("$defs", {}), **payload.pop("$defs", {})}
    props = schema["properties"]
    props["type"] = {"const": spec.name, "title": "Type"}
    props["version"] = {"const": spec.version, "title": "Version"}
    props["payload"] = payload
    schema["title"] = f"{spec.name} v{spec.version}"
    schema["description"] = spec.summary
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:lienthong:event:{spec.name}:v{spec.version}"
    if defs:
        schema["$defs"] = defs
    return schema


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in TOPICS.values():
        refs = {}
        for spec in EVENT_TYPES.values():
            if spec.topic != topic:
                continue
            msg_name = f"{spec.name}.v{spec.version}"
            messages[msg_name] = {
                "name": spec.name,
                "title": spec.name,
                "summary": spec.summary,
                "contentType": "application/json",
                "headers": {
                    "type": "object",
                    "properties": {"traceparent": {"type": "string", "description": "W3C trace context"}},
                },
                "payload": {"$ref": f"./{msg_name}.schema.json"},
            }
            refs[msg_name] = {"$ref": f"#/components/messages/{msg_name}"}
        channels[topic.name] = {
            "address": topic.name,
            "description": f"{topic.description} Key: dossier code. Partitions: {topic.partitions}.",
            "messages": refs,
        }
        operations[f"publish.{topic.name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic.name}"},
            "summary": f"Published by {topic.producer} through its transactional outbox.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "lienthong event bus",
            "version": "1.0.0",
            "description": "Events between intake, routing, sla and notify. Every message is an Envelope.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered_documents() -> dict[str, str]:
    """File name → content of every generated document."""
    docs = {f"{spec.name}.v{spec.version}.schema.json": _dump(event_schema(spec)) for spec in EVENT_TYPES.values()}
    docs["asyncapi.json"] = _dump(asyncapi_document())
    return docs


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_documents(target: Path = DOCS_DIR) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    expected = rendered_documents()
    for stale in target.glob("*.json"):
        if stale.name not in expected:
            stale.unlink()
    for name, content in expected.items():
        path = target / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
