"""Zones pushed to a box over MQTT: the console saves a camera's zones, a dispatcher publishes
the box's zones as one versioned, retained message on ``gridpatrol/v1/<edge_id>/config``
(QoS 1; only dispatchers may publish there, by the broker's ACL). A box that was off gets it
when it connects. The box checks it with the contract's zone model and its model's classes,
applies it at each camera's next sample, and says on its own status topic (retained
:class:`contract.events.EdgeStatus`) which version runs, or why it refused one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.events import SCHEMA_VERSION, TOPIC_PREFIX, Identifier, UtcDatetime
from contract.zones import MAX_ZONES, ZoneConfig, require_unique_ids

MAX_PUSHED_CAMERAS = 500  # cameras of one box in one message


def config_topic(edge_id: str) -> str:
    return f"{TOPIC_PREFIX}/{edge_id}/config"


CONFIG_SUBSCRIPTION = f"{TOPIC_PREFIX}/+/config"


class PushedZones(BaseModel):
    """The zones of every camera of one box, as saved in the console."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    edge_id: Identifier
    version: int = Field(ge=1, description="Grows with every save (milliseconds since 1970 of the save); a box "
                         "applies only a newer version than the one it runs")
    saved_at: UtcDatetime
    saved_by: str = Field(default="", max_length=64, description="Who saved it (a person's id)")
    cameras: dict[Identifier, Annotated[list[ZoneConfig], Field(min_length=1, max_length=MAX_ZONES)]] = Field(
        max_length=MAX_PUSHED_CAMERAS)

    @model_validator(mode="after")
    def _unique_zone_ids(self) -> PushedZones:
        for camera, zones in self.cameras.items():
            require_unique_ids(f"camera {camera} zone", [z.id for z in zones])
        return self


def version_at(at: datetime) -> int:
    return int(at.timestamp() * 1000)


__all__ = ["CONFIG_SUBSCRIPTION", "PushedZones", "config_topic", "version_at"]
