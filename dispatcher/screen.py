"""What the dispatcher refuses of a well-formed event (the contract checked its form): times
outside its window, cameras the town's edge config does not give to the publishing box,
image links that are neither this dispatcher's evidence nor a file on the box. A refused
event goes to the quarantine with the reason, like a malformed one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from contract import ViolationEvent
from contract.events import Snapshot

EVIDENCE_PATH = "/api/v1/evidence/"

# camera id -> the box it belongs to (None: any box); None when the dispatcher has no list
CameraList = Callable[[], dict[str, str | None] | None]
Screening = Callable[[ViolationEvent], str | None]  # why one event is refused, or None


def evidence_link_problem(image: Snapshot) -> str | None:
    """Why ``image``'s URL is not one the dispatcher may show, or None. Shown are only links
    to a dispatcher's evidence store named by the image's own SHA-256 (they are signed again
    with this dispatcher's address); ``file://`` (evidence kept on the box) is kept, not shown."""
    parts = urlsplit(image.url)
    if parts.scheme == "file":
        return None
    if parts.path != f"{EVIDENCE_PATH}{image.sha256}.jpg" or parts.query or parts.fragment:
        return f"{image.url[:100]!r} is not an evidence link of its sha256 ({EVIDENCE_PATH}<sha256>.jpg)"
    return None


def images(event: ViolationEvent) -> list[tuple[str, Snapshot]]:
    """Every image an event carries, with where it is in the event."""
    found = [("snapshot", event.snapshot), ("before", event.before)]
    found += [(f"objects[{i}].crop", o.crop) for i, o in enumerate(event.objects)]
    return [(where, image) for where, image in found if image is not None]


@dataclass(frozen=True)
class EventScreen:
    max_age: timedelta
    max_skew: timedelta
    cameras: CameraList = lambda: None

    def for_batch(self, at: datetime) -> Screening:
        """The screen of one ingest batch received at ``at``: the town's camera list is read
        once for the batch, not once per event."""
        known = self.cameras()
        return lambda event: self.problem(event, at, known)

    def problem(self, event: ViolationEvent, at: datetime, known: dict[str, str | None] | None) -> str | None:
        """Why the dispatcher refuses ``event`` received at ``at``, or None (``known``: the
        camera list, as ``cameras`` gives it)."""
        if event.observed_at > at + self.max_skew:
            return (f"observed_at {event.observed_at.isoformat()} is more than {self.max_skew.total_seconds():.0f} s "
                    "ahead of the dispatcher's clock (is the box's clock set?)")
        if event.observed_at < at - self.max_age:
            return f"observed_at {event.observed_at.isoformat()} is older than {self.max_age.days} days"
        if known is not None:
            if event.camera_id not in known:
                return f"camera {event.camera_id!r} is not in the town's edge config"
            owner = known[event.camera_id]
            if owner is not None and owner != event.edge_id:
                return f"camera {event.camera_id!r} belongs to box {owner!r}, not {event.edge_id!r}"
        for where, image in images(event):
            problem = evidence_link_problem(image)
            if problem:
                return f"{where}.url: {problem}"
        return None
