"""The camera health board: each camera's newest status and its edge box's, from the
retained status topics. Every dispatcher keeps the whole board through a plain (not
shared) subscription: statuses are state, and the broker replays them on every connect,
so nothing needs storing here."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from contract import CAMERA_STATUS_SUBSCRIPTION, EDGE_STATUS_SUBSCRIPTION, CameraStatus, EdgeStatus
from contract.configpush import CONFIG_SUBSCRIPTION, PushedZones
from contract.mqtt import MqttConfig, mqtt_client

log = logging.getLogger(__name__)



class CameraBoard:
    def __init__(self, mqtt_cfg: MqttConfig, client_id: str, on_change: Callable[[dict[str, Any]], None]) -> None:
        self.on_change = on_change
        self.mqtt_cfg = mqtt_cfg
        self.rejected = 0
        self._lock = threading.Lock()
        self._cameras: dict[tuple[str, str], tuple[CameraStatus, datetime]] = {}
        self._edges: dict[str, dict[str, Any]] = {}
        self._classes: dict[str, list[str]] = {}  # each box's model's class names, for the zone editor
        self._pushed: dict[str, int] = {}  # the newest zones version pushed to each box
        self.client = mqtt_client(mqtt_cfg, client_id)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    def start(self) -> None:
        self.client.connect_async(self.mqtt_cfg.host, self.mqtt_cfg.port, self.mqtt_cfg.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.subscribe([(CAMERA_STATUS_SUBSCRIPTION, 1), (EDGE_STATUS_SUBSCRIPTION, 1), (CONFIG_SUBSCRIPTION, 1)])

    def _on_message(self, client, userdata, message) -> None:
        now = datetime.now(UTC)
        parts = message.topic.split("/")
        try:
            if len(parts) == 4 and parts[3] == "config":  # zones pushed to a box (by any dispatcher)
                if message.payload:
                    pushed = PushedZones.model_validate_json(message.payload)
                    with self._lock:
                        self._pushed[parts[2]] = pushed.version
                return
            if len(parts) == 4:  # gridpatrol/v1/<edge>/status
                said = EdgeStatus.model_validate_json(message.payload)
                if said.edge_id not in (None, parts[2]):
                    raise ValueError(f"edge_id {said.edge_id!r} on box {parts[2]!r}'s topic")
                edge = {"edge_id": parts[2], "state": said.state.value, "reason": said.reason,
                        "received_at": now.isoformat(), "zones_version": said.zones_version,
                        "zones_refused": said.zones_refused}
                with self._lock:
                    self._edges[parts[2]] = edge
                    if said.classes is not None:  # its last will does not repeat them
                        self._classes[parts[2]] = said.classes
                self.on_change({"type": "edge", "edge": edge})
                return
            status = CameraStatus.model_validate_json(message.payload)
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            self.rejected += 1
            log.warning("ignored a status on %s: %s", message.topic, str(exc).splitlines()[0])
            return
        with self._lock:
            self._cameras[(status.edge_id, status.camera_id)] = (status, now)
        self.on_change({"type": "camera", "camera": self._row(status, now)})

    def _row(self, status: CameraStatus, received: datetime) -> dict[str, Any]:
        edge = self._edges.get(status.edge_id, {})
        return {"edge_id": status.edge_id, "camera_id": status.camera_id, "state": status.state.value,
                "reason": status.reason, "since": status.since.isoformat(), "received_at": received.isoformat(),
                "last_frame_at": status.last_frame_at.isoformat() if status.last_frame_at else None,
                "edge_state": edge.get("state", "unknown"), **self._versions(status.edge_id)}

    def snapshot(self) -> list[dict[str, Any]]:
        """Every camera heard of, by edge box and camera id."""
        with self._lock:
            return [self._row(s, at) for _, (s, at) in sorted(self._cameras.items())]

    def box_of(self, camera_id: str) -> tuple[str, list[str] | None] | None:
        """The box that reports ``camera_id`` (the newest, if it moved) and its model's classes."""
        with self._lock:
            found = [(at, edge) for (edge, camera), (_, at) in self._cameras.items() if camera == camera_id]
            if not found:
                return None
            edge_id = max(found)[1]
            return edge_id, self._classes.get(edge_id)

    def zones_versions(self, edge_id: str) -> dict[str, Any]:
        """The zones version box ``edge_id`` runs, the newest pushed to it, and the last it refused."""
        with self._lock:
            return self._versions(edge_id)

    def _versions(self, edge_id: str) -> dict[str, Any]:  # the caller holds the lock, or reads one row
        edge = self._edges.get(edge_id, {})
        return {"zones_running": edge.get("zones_version"), "zones_saved": self._pushed.get(edge_id),
                "zones_refused": edge.get("zones_refused") or None}

    def edges(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for _, e in sorted(self._edges.items())]
