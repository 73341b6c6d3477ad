"""Generates the contract's JSON Schema and AsyncAPI document from the pydantic models.

``python -m contract.schema`` rewrites the two committed files; a test fails when they
drift from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from contract.configpush import PushedZones
from contract.events import SCHEMA_REVISION, SCHEMA_VERSION, TOPIC_PREFIX, CameraStatus, EdgeStatus, ViolationEvent
from contract.zonetest import ZoneTestAnswer, ZoneTestRequest

HERE = Path(__file__).resolve().parent
JSON_SCHEMA_PATH = HERE / f"event-v{SCHEMA_VERSION}.schema.json"
ASYNCAPI_PATH = HERE / "asyncapi.yaml"


def event_json_schema() -> dict[str, Any]:
    schema = ViolationEvent.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://gridpatrol.example/schemas/event-v{SCHEMA_VERSION}.json"
    return schema


def asyncapi_document() -> dict[str, Any]:
    schema = event_json_schema()
    defs = schema.pop("$defs", {})
    schema.pop("$schema", None)
    schema.pop("$id", None)
    text = json.dumps(schema).replace("#/$defs/", "#/components/schemas/")
    components = {name: json.loads(json.dumps(body).replace("#/$defs/", "#/components/schemas/"))
                  for name, body in defs.items()}
    components["ViolationEvent"] = json.loads(text)
    status = CameraStatus.model_json_schema()
    for name, body in status.pop("$defs", {}).items():
        components.setdefault(name, body)
    components["CameraStatus"] = json.loads(json.dumps(status).replace("#/$defs/", "#/components/schemas/"))
    for model in (EdgeStatus, ZoneTestRequest, ZoneTestAnswer, PushedZones):
        body = model.model_json_schema()
        for name, part in body.pop("$defs", {}).items():
            components.setdefault(name, json.loads(json.dumps(part).replace("#/$defs/", "#/components/schemas/")))
        components[model.__name__] = json.loads(json.dumps(body).replace("#/$defs/", "#/components/schemas/"))
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "GridPatrol events",
            "version": SCHEMA_REVISION,
            "description": (
                "Violation events published by GridPatrol edge boxes and consumed by the "
                "dispatcher. QoS 1; event_id is stable across retries, so consumers dedupe on it."
            ),
        },
        "defaultContentType": "application/json",
        "channels": {
            "events": {
                "address": f"{TOPIC_PREFIX}/{{edge_id}}/{{camera_id}}/events",
                "parameters": {
                    "edge_id": {"description": "The edge box that saw the violation"},
                    "camera_id": {"description": "The camera, unique within the town"},
                },
                "messages": {"violationEvent": {"$ref": "#/components/messages/violationEvent"}},
            },
            "cameraStatus": {
                "address": f"{TOPIC_PREFIX}/{{edge_id}}/{{camera_id}}/status",
                "parameters": {
                    "edge_id": {"description": "The edge box that reads the camera"},
                    "camera_id": {"description": "The camera"},
                },
                "messages": {"cameraStatus": {"$ref": "#/components/messages/cameraStatus"}},
            },
            "edgeStatus": {
                "address": f"{TOPIC_PREFIX}/{{edge_id}}/status",
                "parameters": {"edge_id": {"description": "The edge box"}},
                "messages": {"edgeStatus": {"$ref": "#/components/messages/edgeStatus"}},
            },
            "boxZones": {
                "address": f"{TOPIC_PREFIX}/{{edge_id}}/config",
                "parameters": {"edge_id": {"description": "The box whose cameras' zones these are"}},
                "messages": {"pushedZones": {"$ref": "#/components/messages/pushedZones"}},
            },
            "zoneTestRequest": {
                "address": f"{TOPIC_PREFIX}/{{edge_id}}/zone-test/request",
                "parameters": {"edge_id": {"description": "The box that runs the camera"}},
                "messages": {"zoneTestRequest": {"$ref": "#/components/messages/zoneTestRequest"}},
            },
            "zoneTestAnswer": {
                "address": f"{TOPIC_PREFIX}/{{edge_id}}/zone-test/answer/{{request_id}}",
                "parameters": {"edge_id": {"description": "The box that answers"},
                               "request_id": {"description": "The request's id: only its asker listens here"}},
                "messages": {"zoneTestAnswer": {"$ref": "#/components/messages/zoneTestAnswer"}},
            },
        },
        "operations": {
            "publishEvent": {
                "action": "send",
                "channel": {"$ref": "#/channels/events"},
                "summary": "An edge box reports a violation opened, updated or cleared.",
                "bindings": {"mqtt": {"qos": 1, "retain": False}},
            },
            "receiveEvent": {
                "action": "receive",
                "channel": {"$ref": "#/channels/events"},
                "summary": "The dispatcher ingests events (MQTT v5 shared subscription when scaled out).",
                "bindings": {"mqtt": {"qos": 1}},
            },
            "publishCameraStatus": {
                "action": "send",
                "channel": {"$ref": "#/channels/cameraStatus"},
                "summary": "An edge box says a camera went online, offline or stalled; retained, re-sent on reconnect.",
                "bindings": {"mqtt": {"qos": 1, "retain": True}},
            },
            "publishEdgeStatus": {
                "action": "send",
                "channel": {"$ref": "#/channels/edgeStatus"},
                "summary": "An edge box says it is online when it connects; the broker says offline (its last will).",
                "bindings": {"mqtt": {"qos": 1, "retain": True}},
            },
            "pushZones": {
                "action": "send",
                "channel": {"$ref": "#/channels/boxZones"},
                "summary": "A dispatcher pushes a box's zones as saved in the console: versioned, retained (a box "
                           "that was off gets them on connecting); only dispatchers may publish here, by ACL. The "
                           "box says in its EdgeStatus which version runs (zones_version) or why it refused one.",
                "bindings": {"mqtt": {"qos": 1, "retain": True}},
            },
            "askZoneTest": {
                "action": "send",
                "channel": {"$ref": "#/channels/zoneTestRequest"},
                "summary": "A dispatcher asks a box to replay a camera's recent samples through a zone not yet "
                           "saved (only dispatchers may publish here, by ACL).",
                "bindings": {"mqtt": {"qos": 1, "retain": False}},
            },
            "answerZoneTest": {
                "action": "send",
                "channel": {"$ref": "#/channels/zoneTestAnswer"},
                "summary": "The box answers with what would have opened, updated and cleared, with small pictures.",
                "bindings": {"mqtt": {"qos": 1, "retain": False}},
            },
            "receiveStatus": {
                "action": "receive",
                "channel": {"$ref": "#/channels/edgeStatus"},
                "summary": "Every dispatcher keeps the board of boxes (a plain subscription: status is state).",
                "bindings": {"mqtt": {"qos": 1}},
            },
        },
        "components": {
            "messages": {name[0].lower() + name[1:]: {"name": name, "payload": {"$ref": f"#/components/schemas/{name}"}}
                         for name in ("ViolationEvent", "CameraStatus", "EdgeStatus", "PushedZones", "ZoneTestRequest",
                                      "ZoneTestAnswer")},
            "schemas": components,
        },
    }


def render() -> dict[Path, str]:
    return {
        JSON_SCHEMA_PATH: json.dumps(event_json_schema(), indent=2, sort_keys=True) + "\n",
        ASYNCAPI_PATH: yaml.safe_dump(asyncapi_document(), sort_keys=False, allow_unicode=True),
    }


def main() -> int:
    for path, text in render().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
