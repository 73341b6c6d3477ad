"""Trying a zone before it is saved: the console asks a box to replay a camera's recent
samples through an edited zone, and the box answers with what would have opened and cleared.

Over MQTT, because boxes are often behind the town's NAT and the broker is the one place both
halves reach: a dispatcher publishes a :class:`ZoneTestRequest` on
``gridpatrol/v1/<edge_id>/zone-test/request`` (QoS 1, not retained: a box that is off simply
does not answer) and listens on ``gridpatrol/v1/<edge_id>/zone-test/answer/<request_id>``,
where the box publishes its :class:`ZoneTestAnswer`. The request id in the topic lets the
asking dispatcher, and only it, wait for the answer; the broker's ACL lets only dispatchers
publish requests and each box read its own.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.events import (
    SCHEMA_VERSION,
    TOPIC_PREFIX,
    Coordinate,
    EventState,
    Identifier,
    UtcDatetime,
)
from contract.zones import ZoneConfig

MAX_TEST_MINUTES = 60.0  # the most of a camera's recent past a box keeps and a test may ask for
MAX_TEST_EVENTS = 40  # events in one answer (the first ones, in time order)
MAX_THUMBNAIL_CHARS = 60_000  # base64 of one small JPEG: ~45 kB

ClassName = Annotated[str, Field(min_length=1, max_length=64)]


def zone_test_request_topic(edge_id: str) -> str:
    return f"{TOPIC_PREFIX}/{edge_id}/zone-test/request"


def zone_test_answer_topic(edge_id: str, request_id: uuid.UUID | str) -> str:
    return f"{TOPIC_PREFIX}/{edge_id}/zone-test/answer/{request_id}"


ZONE_TEST_REQUEST_SUBSCRIPTION = f"{TOPIC_PREFIX}/+/zone-test/request"


class ZoneTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    request_id: uuid.UUID
    camera_id: Identifier
    zone: ZoneConfig = Field(description="The zone as edited, not yet saved (checked as the edge checks it)")
    minutes: float = Field(default=10.0, gt=0, le=MAX_TEST_MINUTES, description="How far back to replay")


class ZoneTestEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: EventState
    at: UtcDatetime
    object_class: ClassName
    bbox: tuple[Coordinate, Coordinate, Coordinate, Coordinate] = Field(description="x1, y1, x2, y2 in pixels")
    dwell_s: float = Field(ge=0, le=366 * 86400.0)
    thumbnail_jpeg: str | None = Field(default=None, max_length=MAX_THUMBNAIL_CHARS,
                                       pattern=r"^[A-Za-z0-9+/=]*$",
                                       description="The camera's frame nearest the moment, small, base64 JPEG")


class ZoneTestAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    request_id: uuid.UUID
    edge_id: Identifier
    camera_id: Identifier
    samples: int = Field(ge=0, description="Samples replayed")
    since: UtcDatetime | None = Field(default=None, description="The first sample replayed")
    until: UtcDatetime | None = None
    events: list[ZoneTestEvent] = Field(default_factory=list, max_length=MAX_TEST_EVENTS)
    more: bool = Field(default=False, description="More events would have followed than the answer holds")
    error: str = Field(default="", max_length=500, description="Why the test could not run (unknown camera, a "
                       "class the model lacks); empty when it ran")


__all__ = [
    "MAX_TEST_EVENTS",
    "MAX_TEST_MINUTES",
    "ZONE_TEST_REQUEST_SUBSCRIPTION",
    "ZoneTestAnswer",
    "ZoneTestEvent",
    "ZoneTestRequest",
    "zone_test_answer_topic",
    "zone_test_request_topic",
]
