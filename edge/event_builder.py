"""A decision as the contract's event: ids, times, the zone's kind and place, the object."""

from __future__ import annotations

from collections.abc import Sequence

from contract import DetectedObject, ViolationEvent, event_id_for, violation_id_for
from edge.analyzer import Clock
from edge.rules import Decision


class EventBuilder:
    """Builds one camera's events. Ids are derived, never drawn: the violation id from the box,
    camera, zone, spot and the media time the object came to rest, so a decision made again
    (a replay, a restart with the same clock) gives the same ids and the dispatcher's
    deduplication holds."""

    def __init__(self, edge_id: str, camera_id: str, class_names: Sequence[str], clock: Clock) -> None:
        self.edge_id = edge_id
        self.camera_id = camera_id
        self.class_names = list(class_names)
        self.clock = clock

    def event(self, decision: Decision, scale: tuple[float, float] = (1.0, 1.0)) -> ViolationEvent:
        """``decision`` as an event; ``scale`` takes its boxes from the frame it was decided on
        to the picture its evidence comes from (a camera's main stream, detected on its substream)."""
        spot, zone = decision.spot, decision.zone
        started_at = self.clock(spot.since)
        violation_id = violation_id_for(self.edge_id, self.camera_id, zone.id, spot.spot_id, started_at)
        sx, sy = scale
        x1, y1, x2, y2 = (round(float(v), 1) for v in (spot.box[0] * sx, spot.box[1] * sy, spot.box[2] * sx,
                                                        spot.box[3] * sy))
        return ViolationEvent(
            event_id=event_id_for(violation_id, decision.state, decision.sequence),
            violation_id=violation_id,
            kind=zone.kind,
            state=decision.state,
            edge_id=self.edge_id,
            camera_id=self.camera_id,
            zone_id=zone.id,
            micro_grid=zone.micro_grid,
            location=zone.location,
            shop_id=zone.shop_id,
            started_at=started_at,
            observed_at=self.clock(decision.time_s),
            dwell_s=round(decision.dwell_s, 3),
            objects=[
                DetectedObject(
                    class_name=self.class_names[spot.class_id],
                    confidence=round(min(max(spot.confidence, 0.0), 1.0), 4),
                    bbox=(x1, y1, x2, y2),
                    track_id=spot.spot_id,
                )
            ],
        )
