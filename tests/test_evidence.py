"""Evidence on the edge box's disk: kept by age, size and free space, oldest out first, images
of unpublished events last; a full disk (a real, small tmpfs) prunes and carries on, and says
clearly when it cannot."""

from __future__ import annotations

import itertools
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from builders import camera_config, camera_pipeline, violation_event, zone_config

from contract import ViolationEvent
from edge.evidence import EvidenceError, EvidenceStore
from edge.retention import Retention


def event(n: int) -> ViolationEvent:
    return violation_event(event_id=str(uuid.uuid4()), camera_id=f"cam-{n % 3:03d}")


def raise_it(exc: EvidenceError) -> None:
    raise exc


def noisy_frame(seed: int, size: int = 240) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)  # JPEGs of ~40 kB


def stored(store: EvidenceStore) -> list[Path]:
    return sorted(store.root.rglob("*.jpg"))


def test_retention_by_age_and_size_oldest_first_pending_last(tmp_path: Path) -> None:
    pending: set[str] = set()
    store = EvidenceStore(tmp_path / "ev", retention=Retention(max_age_s=3600, max_bytes=None),
                          protected=lambda: pending)
    paths = [store.save(noisy_frame(i), event(i), []).path for i in range(6)]
    now = time.time()
    for i, path in enumerate(paths):  # image i is 10 - i hours old
        os.utime(path, (now - (10 - i) * 3600, now - (10 - i) * 3600))
    os.utime(paths[5], (now, now))  # the newest is fresh
    pending.add(str(paths[0]))  # its event still waits in the outbox
    done = store.prune(now)
    assert (done.files, done.reason) == (4, "age")
    assert stored(store) == sorted([paths[0], paths[5]])  # the pending one stays, however old

    size = paths[5].stat().st_size
    capped = EvidenceStore(tmp_path / "ev", retention=Retention(max_age_s=None, max_bytes=size + 10),
                           protected=lambda: pending)
    done = capped.prune(now)
    # Over the size cap: the published image goes before the pending one, though it is newer.
    assert (done.files, done.reason) == (1, "size") and stored(capped) == [paths[0]]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB file system (tmpfs), so that a write fails with ENOSPC as on a full disk."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_prunes_the_oldest_and_keeps_writing(small_disk: Path) -> None:
    store = EvidenceStore(small_disk / "ev", retention=Retention(max_age_s=None))
    written = []
    for i in range(60):  # far more than 1 MB: the disk fills up on the way
        written.append(store.save(noisy_frame(i), event(i), []).path)
        os.utime(written[-1], (1_000_000 + i, 1_000_000 + i))  # in order of age
    kept = stored(store)
    assert written[-1] in kept and written[0] not in kept  # the newest is there, the oldest went
    assert store.pruned_total.files >= 20 and 10 <= len(kept) < 30
    # Whatever is kept is the newest run of images, each whole.
    assert kept == sorted(written[-len(kept):])
    assert not list(store.root.rglob("*.part"))


def test_a_disk_full_of_other_things_is_a_clear_error(small_disk: Path) -> None:
    store = EvidenceStore(small_disk / "ev", retention=Retention(max_age_s=None))
    filler = small_disk / "other.bin"
    with open(filler, "wb") as fh, pytest.raises(OSError):
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    with pytest.raises(EvidenceError, match=r"evidence disk full: cannot write .* even after pruning 0 old images"):
        store.save(noisy_frame(1), event(1), [])
    assert not list(store.root.rglob("*.part"))


def test_a_shop_fronts_snapshot_shows_its_door_line() -> None:
    from contract.zones import ZoneConfig
    from edge.evidence import render_snapshot
    from edge.zones import ZoneShape

    zone = ZoneConfig(id="front", kind="cross_door_trading", polygon=[(0.1, 0.4), (0.9, 0.4), (0.9, 0.9), (0.1, 0.9)],
                      door_line=((0.1, 0.4), (0.9, 0.4)), classes=["chair"], dwell_s=60, shop_id="shop-0012")
    shot = event(1).model_copy(update={"zone_id": "front", "objects": []})
    image = render_snapshot(np.zeros((200, 200, 3), np.uint8), shot, [ZoneShape(zone, (200, 200))])
    on_line, below = image[80, 100], image[84, 100]  # the door line at y=80 is drawn 4 px thick
    assert on_line[1] > 150 and on_line[2] > 150 and on_line[0] < 60  # the zone's amber, thick
    assert below.max() < 60  # the strip itself only tinted


def test_a_cameras_recent_past_is_kept_small_and_found_by_time() -> None:
    from edge.history import FrameHistory

    history = FrameHistory(span_s=60, every_s=5)
    for t in range(0, 120):  # a 1920x1080 camera sampled once a second for two minutes
        history.add(float(t), np.full((1080, 1920, 3), t, np.uint8))
    assert len(history) == 13  # every 5 s over the last 60 s
    assert history.before(30.0) is None  # older than the span: gone
    found_t, image = history.before(97.0)
    assert found_t == 95.0 and image.shape == (1080, 1920, 3)  # back at the size it was seen
    assert abs(int(image[500, 500, 0]) - 95) <= 2  # that frame's picture
    assert history.nbytes < 200_000  # small JPEGs at 960 px, not raw frames


def test_a_main_stream_keyframe_kept_for_the_recent_past_is_decoded_only_for_a_before_image() -> None:
    """A camera detected on its substream keeps its main stream's keyframes compressed: none is
    decoded (nor pixelated) until a before image is wanted, and then with privacy applied."""
    from edge.history import FrameHistory

    decoded: list[float] = []

    class Keyframe:  # as edge.mainstream.HeldKeyframe: its bytes, its picture when called
        nbytes = 150_000

        def __init__(self, t: float) -> None:
            self.t = t

        def __call__(self) -> np.ndarray:
            decoded.append(self.t)
            return np.full((1080, 1920, 3), 200, np.uint8)

    def pixelate(image: np.ndarray) -> np.ndarray:
        image[:100] = 0
        return image

    history = FrameHistory(span_s=60, every_s=5)
    for t in range(0, 120):
        history.add_later(float(t), Keyframe(float(t)), pixelate)
    assert len(history) == 13 and history.nbytes == 13 * 150_000 and decoded == []
    found_t, image = history.before(97.0)
    assert found_t == 95.0 and decoded == [95.0]
    assert image[50, 50, 0] == 0 and image[500, 500, 0] == 200  # protected on the way out
    # A 15-minute span of 1080p keyframes would be 27 MB: thinned to the budget, still spread over it.
    long = FrameHistory(span_s=900, every_s=5, max_bytes=3_000_000)
    for t in range(0, 1200):
        long.add_later(float(t), Keyframe(float(t)), pixelate)
    times = [kept_t for kept_t, _ in long._frames]
    assert long.nbytes <= 3_000_000 and len(times) == 20 and times[-1] == 1195.0
    assert times[0] <= 300.0 + 60 and max(b - a for a, b in itertools.pairwise(times)) <= 90


def detail(region: np.ndarray) -> float:
    """The share of neighbouring pixels that differ visibly: a pixelated head is flat but for
    its few block edges, a photographed one is full of edges."""
    grey = region.astype(np.int16).mean(axis=2)
    return float((np.abs(np.diff(grey, axis=1)) > 6).mean())


def test_people_are_pixelated_in_what_is_stored(shared: Path, tmp_path: Path) -> None:
    """On a real photo with people (zidane.jpg), evidence.blur 'heads' pixelates the head of
    every person the detector finds, in the snapshot and in the camera's kept past, and
    leaves the rest of the picture as it was."""
    import cv2

    from edge.detector import YoloDetector
    from edge.privacy import pixelate_people

    image = cv2.imread(str(shared / "media/images/zidane.jpg"))
    detector = YoloDetector(shared / "models/yolov8n-coco-int8-640.onnx")
    detections = detector.detect(image)
    people = detections.xyxy[detections.class_id == detector.class_names.index("person")]
    assert len(people) >= 2

    def head(picture: np.ndarray, box: np.ndarray) -> np.ndarray:
        x1, y1, x2, y2 = (int(v) for v in box)
        return picture[y1 + 2:y1 + int(0.3 * (y2 - y1)) - 2, x1 + 2:x2 - 2]

    hidden = pixelate_people(image, people, "heads")
    for box in people:
        assert detail(head(hidden, box)) < detail(head(image, box)) / 5  # no face left to recognise
    covered = np.zeros(image.shape[:2], bool)
    for x1, y1, x2, y2 in people.astype(int):
        covered[max(0, y1):y2 + 1, max(0, x1):x2 + 1] = True
    assert (hidden[~covered] == image[~covered]).all()  # nothing else touched
    assert pixelate_people(image, people, "none") is image

    # the ties stand still: a violation
    zone = zone_config(polygon=[(0, 0), (1, 0), (1, 1), (0, 1)], classes=["tie"], dwell_s=1)
    camera = camera_pipeline(camera_config(zone), detector.class_names, EvidenceStore(tmp_path / "evidence"), "heads")
    stored = [images for t in range(8) for _, images in camera.frame(t * 0.5, image, detections, raise_it) if images]
    assert stored, "the still ties opened no violation"
    snapshot = cv2.imread(str(stored[0][0].path))
    _, kept = camera.recorder.history.before(10.0)
    for box in people:  # stored as JPEG: a few more colours at block edges, still no face
        assert detail(head(snapshot, box)) < detail(head(image, box)) / 4
        assert detail(head(kept, box)) < detail(head(image, box)) / 4


def apart(picture: np.ndarray, reference: np.ndarray, box: np.ndarray) -> float:
    """Mean difference in ``box`` between ``picture`` and ``reference`` scaled to its size."""
    import cv2

    scaled = cv2.resize(reference, (picture.shape[1], picture.shape[0]), interpolation=cv2.INTER_AREA)
    x1, y1, x2, y2 = box
    return float(np.abs(picture[y1:y2, x1:x2].astype(np.int16) - scaled[y1:y2, x1:x2]).mean())


# Plates seen in the shared photos, located by eye (x1, y1, x2, y2 pixels): the black car's
# rear plate in the car park, the white front plate of the car coming down the road.
PLATES = {"carpark-1920x1080.jpg": (1596, 465, 1629, 479), "road-motorbikes-1280x574.jpg": (606, 344, 617, 351)}


@pytest.mark.parametrize("photo", sorted(PLATES))
def test_plates_are_pixelated_and_the_vehicles_stay_recognisable(shared: Path, photo: str) -> None:
    """On real photos, evidence.blur_plates pixelates where plates are on every vehicle the
    detector finds: the plate loses its detail, nothing outside the vehicles' plate regions
    changes, and the detector still finds each vehicle, in the same place, in the result."""
    import cv2

    from contract.geometry import box_iou
    from edge.detector import YoloDetector
    from edge.privacy import PLATED_CLASSES, pixelate_plates, plate_regions

    image = cv2.imread(str(shared / "media/images" / photo))
    detector = YoloDetector(shared / "models/yolov8n-coco-int8-640.onnx")
    found = detector.detect(image)
    plated = np.isin(found.class_id, detector.class_ids(PLATED_CLASSES))
    vehicles, classes = found.xyxy[plated], found.class_id[plated]
    assert len(vehicles) >= 2

    hidden = pixelate_plates(image, vehicles)
    x1, y1, x2, y2 = PLATES[photo]
    assert detail(hidden[y1:y2, x1:x2]) < detail(image[y1:y2, x1:x2]) / 3
    covered = np.zeros(image.shape[:2], bool)
    for rx1, ry1, rx2, ry2 in plate_regions(vehicles):
        covered[max(0, int(ry1)):int(np.ceil(ry2)), max(0, int(rx1)):int(np.ceil(rx2))] = True
    assert covered[y1:y2, x1:x2].all()
    assert (hidden[~covered] == image[~covered]).all()
    again = detector.detect(hidden)
    for box, cls in zip(vehicles, classes, strict=True):
        same_class = again.xyxy[again.class_id == cls]
        assert len(same_class) and box_iou(box[None], same_class).max() >= 0.8, (detector.class_names[cls], box)
    assert pixelate_plates(image, vehicles[:0]) is image


def test_stored_evidence_has_plates_pixelated(shared: Path, tmp_path: Path) -> None:
    """Through the analyzer (evidence.blur_plates on, the COCO vehicle classes by default):
    the snapshot of a violation and the camera's kept past show the plate pixelated; a plate
    class the model lacks is refused naming the setting."""
    import cv2

    from edge.config import EvidenceConfig
    from edge.detector import YoloDetector
    from edge.privacy import pixelate_plates, plate_classes_of
    from edge.recorder import EvidenceRecorder

    image = cv2.imread(str(shared / "media/images/carpark-1920x1080.jpg"))
    detector = YoloDetector(shared / "models/yolov8n-coco-int8-640.onnx")
    detections = detector.detect(image)
    plates = plate_classes_of(EvidenceConfig(blur_plates=True), detector.class_names)
    assert plates == ["car", "motorcycle", "bus", "truck"]
    assert plate_classes_of(EvidenceConfig(), detector.class_names) == []
    # The left cars stand still in the zone; the black car, right of it, is outside (untinted).
    zone = zone_config(polygon=[(0, 0), (0.6, 0), (0.6, 1), (0, 1)], classes=["car"], dwell_s=1)
    store = EvidenceStore(tmp_path / "evidence")
    camera = camera_pipeline(camera_config(zone), detector.class_names, store, plate_classes=plates)
    stored = [images for t in range(8) for _, images in camera.frame(t * 0.5, image, detections, raise_it) if images]
    assert stored, "the parked cars opened no violation"
    x1, y1, x2, y2 = PLATES["carpark-1920x1080.jpg"]
    snapshot = cv2.imread(str(stored[0][0].path))
    _, kept = camera.recorder.history.before(10.0)
    hidden = pixelate_plates(image, detections.xyxy[np.isin(detections.class_id, detector.class_ids(plates))])
    for picture in (snapshot, kept):  # JPEGs (the past at 960 px): nearer the pixelated plate than the plate
        plate = (np.array([x1, y1, x2, y2]) * picture.shape[1] / image.shape[1]).round().astype(int)
        assert apart(picture, hidden, plate) < apart(picture, image, plate) / 2
    with pytest.raises(ValueError, match=r"evidence\.plate_classes.*e-bike"):
        EvidenceRecorder(store, detector.class_names, [zone], camera.analyzer.clock, plate_classes=["e-bike"])
