"""Generate the AsyncAPI 3.0 document of the Kafka topics from the contract, or check that
the committed one is current.

    python tools/asyncapi_gen.py generate   # rewrite generated/asyncapi.json
    python tools/asyncapi_gen.py check      # exit 1 when it differs from a fresh run

The messages are those of protos/payments/v1/events.proto that carry an `(event_type)`
option; `(event_direction)` puts them on the payment events topic (published) or the shared
order events topic (consumed, CloudEvents-typed); `(per_event_topic)` gives a consumed event a
topic of its own too, where the specification's header-less JSON is typed by the topic;
`(json_wire_type)` says where the wire JSON differs from proto3's
(exact decimals and integers as JSON numbers); `(google.api.field_behavior) = REQUIRED`
marks what a consumed event must carry (a published event carries every field). The
descriptions are the proto comments. Run after `make generate` (it reads generated/).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "generated"))

from google.api import field_behavior_pb2  # noqa: E402
from google.protobuf import descriptor_pb2  # noqa: E402
from google.protobuf.descriptor import Descriptor, FieldDescriptor  # noqa: E402

from payments.v1 import event_options_pb2 as options  # noqa: E402
from payments.v1 import events_pb2  # noqa: E402

OUTPUT = ROOT / "generated" / "asyncapi.json"
EVENTS_PROTO = "payments/v1/events.proto"
KAFKA_BINDING = "0.5.0"
RFC3339_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"

PAYMENT_TOPIC = "payment.events"
ORDER_TOPIC = "order.events"


def comments() -> dict[str, str]:
    """Leading comments by element path (message name, or message.field), from protoc's
    source info."""
    from grpc_tools import protoc  # noqa: PLC0415 - only generation needs it

    wkt = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.bin"
        args = [
            "protoc",
            f"-I{ROOT / 'protos'}",
            f"-I{ROOT / 'third_party' / 'protos'}",
            f"-I{wkt}",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            EVENTS_PROTO,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    [file] = [f for f in fds.file if f.name == EVENTS_PROTO]
    found: dict[str, str] = {}
    for location in file.source_code_info.location:
        path = list(location.path)
        text = " ".join(line.strip() for line in location.leading_comments.splitlines())
        if not text or len(path) < 2 or path[0] != 4:  # 4: message_type
            continue
        message = file.message_type[path[1]]
        if len(path) == 2:
            found[message.name] = text.strip()
        elif len(path) == 4 and path[2] == 2:  # 2: field
            found[f"{message.name}.{message.field[path[3]].name}"] = text.strip()
    return found


def field_schema(field: FieldDescriptor) -> dict[str, Any]:
    wire = field.GetOptions().Extensions[options.json_wire_type]
    schema: dict[str, Any]
    if wire == options.JSON_WIRE_TYPE_DECIMAL_NUMBER:
        schema = {"type": "number", "x-decimal": True}
    elif wire == options.JSON_WIRE_TYPE_INTEGER_NUMBER:
        schema = {"type": "integer"}
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name != "google.protobuf.Timestamp":
            raise SystemExit(f"{field.full_name}: no JSON Schema for {field.message_type.name}")
        schema = {"type": "string", "format": "date-time", "pattern": RFC3339_UTC}
    elif field.type == FieldDescriptor.TYPE_STRING:
        schema = {"type": "string"}
    elif field.type == FieldDescriptor.TYPE_BOOL:
        schema = {"type": "boolean"}
    elif field.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_UINT32):
        schema = {"type": "integer"}
    else:
        raise SystemExit(f"{field.full_name}: no JSON wire type for proto type {field.type}")
    if field.is_repeated:
        schema = {"type": "array", "items": schema}
    return schema


def message_schema(message: Descriptor, published: bool, docs: dict[str, str]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in sorted(message.fields, key=lambda f: f.number):
        schema = field_schema(field)
        if doc := docs.get(f"{message.name}.{field.name}"):
            schema = {"description": doc, **schema}
        properties[field.json_name] = schema
        behaviors = field.GetOptions().Extensions[field_behavior_pb2.field_behavior]
        if published or field_behavior_pb2.REQUIRED in behaviors:
            required.append(field.json_name)
    return {
        "type": "object",
        "description": docs.get(message.name, ""),
        "properties": properties,
        "required": required,
        # What the service publishes is exactly this; what it consumes may carry more.
        "additionalProperties": not published,
    }


def cloudevents_headers(event_type: str | None, required: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "The event id (= eventId)."},
        "ce_type": {"type": "string", "description": "The event type."},
        "ce_source": {"type": "string", "description": "The producer, e.g. /payment-service."},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "The payment id."},
        "content-type": {"type": "string", "const": "application/json"},
    }
    if event_type is not None:
        props["ce_type"] = {**props["ce_type"], "const": event_type}
    schema: dict[str, Any] = {
        "type": "object",
        "description": "CloudEvents 1.0 Kafka binary mode: the attributes as ce_* headers.",
        "properties": props,
    }
    if required:
        schema["required"] = list(props)
    return schema


def event_messages() -> list[tuple[Descriptor, str, bool]]:
    found: list[tuple[Descriptor, str, bool]] = []
    for message in events_pb2.DESCRIPTOR.message_types_by_name.values():
        opts = message.GetOptions()
        event_type = opts.Extensions[options.event_type]
        if not event_type:
            continue
        direction = opts.Extensions[options.event_direction]
        if direction == options.EVENT_DIRECTION_UNSPECIFIED:
            raise SystemExit(f"{message.full_name} has an event_type but no event_direction")
        found.append((message, event_type, direction == options.EVENT_DIRECTION_PUBLISHED))
    return found


def per_event_topic(message: Descriptor) -> str:
    return str(message.GetOptions().Extensions[options.per_event_topic])


def topic_setting(event_type: str) -> str:
    """The service's setting naming an event's own topic (server/kafka_config.py)."""
    return "KAFKA_TOPIC_" + event_type.upper().replace(".", "_")


def spec_form_headers(event_type: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": (
            "None needed: the topic gives the type. A ce_type header or a type field naming "
            "another event makes the record ambiguous: it is dead-lettered."
        ),
        "properties": {"ce_type": {"type": "string", "const": event_type}},
    }


def message_id(event_type: str) -> str:
    head, _, tail = event_type.partition(".")
    return head + "".join(part.capitalize() for part in tail.split("_"))


def document() -> dict[str, Any]:
    docs = comments()
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    published: dict[str, Any] = {}
    consumed: dict[str, Any] = {}
    # channel id -> (default topic, event type, message id) of the per-event order topics
    own_topics: dict[str, tuple[str, str, str]] = {}
    for message, event_type, out in event_messages():
        schemas[message.name] = message_schema(message, out, docs)
        key = message_id(event_type)
        messages[key] = {
            "name": event_type,
            "title": message.name,
            "summary": docs.get(message.name, ""),
            "contentType": "application/json",
            "headers": cloudevents_headers(event_type, required=out),
            "payload": {"$ref": f"#/components/schemas/{message.name}"},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": "The order id."},
                    "bindingVersion": KAFKA_BINDING,
                }
            },
        }
        (published if out else consumed)[key] = {"$ref": f"#/components/messages/{key}"}
        if topic := per_event_topic(message):
            spec_key = f"{key}SpecForm"
            messages[spec_key] = {
                **messages[key],
                "title": f"{message.name} (the specification's form)",
                "headers": spec_form_headers(event_type),
            }
            own_topics[key] = (topic, event_type, spec_key)
    messages["deadLetter"] = {
        "name": "dead-letter",
        "title": "A consumed record that can never be processed",
        "summary": "The record as it was consumed (value, key and headers), with the error.",
        "headers": {
            "type": "object",
            "properties": {
                "error": {"type": "string", "description": "Why it cannot be processed."},
                "error_type": {"type": "string", "description": "The error's class."},
                "original_topic": {"type": "string", "description": "Where it was consumed."},
                "original_partition": {"type": "string", "description": "Its partition."},
                "original_offset": {"type": "string", "description": "Its offset."},
            },
            "required": [
                "error",
                "error_type",
                "original_topic",
                "original_partition",
                "original_offset",
            ],
        },
        "payload": {"description": "The original value, unchanged (possibly not JSON)."},
    }

    def channel(address: str, description: str, msgs: dict[str, Any]) -> dict[str, Any]:
        return {
            "address": address,
            "description": description,
            "messages": msgs,
            "bindings": {"kafka": {"topic": address, "bindingVersion": KAFKA_BINDING}},
        }

    def operation(action: str, name: str, msgs: dict[str, Any], summary: str) -> dict[str, Any]:
        return {
            "action": action,
            "summary": summary,
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{key}"} for key in msgs],
        }

    dead = {"deadLetter": {"$ref": "#/components/messages/deadLetter"}}
    own_channels: dict[str, Any] = {}
    own_operations: dict[str, Any] = {}
    for key, (topic, event_type, spec_key) in own_topics.items():
        msgs = {spec_key: {"$ref": f"#/components/messages/{spec_key}"}}
        own_channels[key] = channel(
            topic,
            f"{event_type} in the specification's form ({topic_setting(event_type)}): "
            "exactly its JSON, no headers needed, the topic gives the type.",
            msgs,
        )
        own_operations["consume" + key[0].upper() + key[1:]] = operation(
            "receive", key, msgs, f"The service consumes {event_type} from its own topic."
        )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "payment-service events",
            # The contract's version (VERSION, tools/version.py): the document is part of it.
            "version": (ROOT / "VERSION").read_text().strip(),
            "description": (
                "The Kafka topics of the payment service, generated from "
                "protos/payments/v1/events.proto by tools/asyncapi_gen.py. Amounts are exact "
                "decimals written as JSON numbers (x-decimal): parse them into a decimal "
                "type, never a binary float. Messages are keyed by the order id."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "The brokers of KAFKA_BROKERS.",
            }
        },
        "channels": {
            "paymentEvents": channel(
                PAYMENT_TOPIC,
                "Payment events, every type on one topic (KAFKA_TOPIC_PAYMENT_EVENTS), "
                "written through the outbox: at least once, in order per order id.",
                published,
            ),
            "orderEvents": channel(
                ORDER_TOPIC,
                "Order events the service consumes, every type on one topic "
                "(KAFKA_TOPIC_ORDER_EVENTS); the type comes from the ce_type header, else the "
                "JSON type or eventType field. The same events also come on topics of their "
                "own, without headers (the channels named after them).",
                consumed,
            ),
            **own_channels,
            "orderEventsDeadLetter": channel(
                f"{ORDER_TOPIC}.dlq",
                "Order events that can never be processed, from any order topic "
                "(KAFKA_TOPIC_ORDER_EVENTS + .dlq); original_topic says where from.",
                dead,
            ),
        },
        "operations": {
            "publishPaymentEvents": operation(
                "send", "paymentEvents", published, "The service publishes payment events."
            ),
            "consumeOrderEvents": operation(
                "receive", "orderEvents", consumed, "The service consumes order events."
            ),
            **own_operations,
            "publishDeadLetters": operation(
                "send", "orderEventsDeadLetter", dead, "Poison order events go here."
            ),
        },
        "components": {"schemas": schemas, "messages": messages},
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "generate"
    if command == "generate":
        OUTPUT.write_text(render())
        return 0
    if command == "check":
        if not OUTPUT.exists() or OUTPUT.read_text() != render():
            print(f"{OUTPUT.relative_to(ROOT)} is stale; run `make generate` and commit")
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is current")
        return 0
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    sys.exit(main())
