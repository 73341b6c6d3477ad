"""Zones saved in the console, pushed to the box that runs the camera (contract/configpush.py):
one retained, versioned message per box with all its cameras' zones, on the broker every box
already reaches, so that no file system is shared between dispatcher and boxes; a box that is
off gets the newest when it connects."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

from contract.configpush import PushedZones, config_topic, version_at
from dispatcher.zonefile import ZoneFile
from i18n import Msg


class PushFailed(RuntimeError):
    def __init__(self, message: Msg) -> None:
        super().__init__(message)
        self.message = message


def push_zones(client: mqtt.Client, zones: ZoneFile, camera_id: str, saved_by: str,
               timeout_s: float = 5.0) -> PushedZones:
    """Publish the zones of the box that runs ``camera_id``, retained at QoS 1; the message
    once the broker acknowledged it, else :class:`PushFailed`."""
    edge, cameras = zones.box_zones(camera_id)
    now = datetime.now(UTC)
    message = PushedZones(edge_id=edge, version=version_at(now), saved_at=now, saved_by=saved_by[:64],
                          cameras=cameras)
    info = client.publish(config_topic(edge), message.model_dump_json(), qos=1, retain=True)
    with contextlib.suppress(RuntimeError, ValueError):  # not connected: said below
        info.wait_for_publish(timeout_s)
    if not info.is_published():
        raise PushFailed(Msg("saved, but not sent to box {edge}: the broker did not take it; save again once it is "
                             "back", edge=edge))
    return message


__all__ = ["PushFailed", "push_zones"]
