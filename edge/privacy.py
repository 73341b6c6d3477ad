"""Personal data in evidence: people and licence plates in stored images are pixelated before
anything is written to disk or kept in a camera's recent past, as China's Personal
Information Protection Law asks of public cameras' side uses. The grid worker needs the bike
and the spot, not the face of whoever walks by or the plate of the car beside it.

People: their heads, or the whole person, from the detector's person boxes.

Plates: no public detector of plates ships with GridPatrol, so the part of each plated
vehicle's box where plates are mounted (front and rear bumper, a motorbike's or e-bike's
rear above the wheel: the lower ``PLATE_PART`` in any view) is pixelated in blocks of
1/``PLATE_BLOCKS`` of the vehicle's larger side. Seen from the front a car's box is some
1,800 mm wide and a plate character 45 mm wide and 90 mm tall, so a block (56 mm or more)
takes a whole character's width and half its height: none can be read, while the vehicle
keeps its shape, colour and upper part, and the detector still finds it in the pixelated
image (tests/test_evidence.py)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edge.config import BlurMode, EvidenceConfig

HEAD_PART = 0.4  # the top of a person's box taken for the head (generous: people bend, boxes merge)
BLOCKS = 6  # at most this many pixel blocks across a person's head or body
PLATE_PART = 0.7  # the lower part of a vehicle's box that holds its plates
PLATE_BLOCKS = 32  # blocks across the vehicle's larger side: each as wide as a plate character
PLATED_CLASSES = ("car", "motorcycle", "bus", "truck")  # COCO's; a custom model adds its e-bikes


def _pixelate(out: np.ndarray, box: np.ndarray, block: float) -> None:
    """Replaces ``box`` (x1, y1, x2, y2 pixels) of ``out`` in place by blocks ``block`` pixels wide."""
    height, width = out.shape[:2]
    x1, y1, x2, y2 = box
    left, top = max(0, int(x1)), max(0, int(y1))
    right, bottom = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
    if right - left < 2 or bottom - top < 2:
        return
    size = max(2, int(np.ceil(block)))
    small = cv2.resize(out[top:bottom, left:right],
                       (max(1, (right - left) // size), max(1, (bottom - top) // size)), interpolation=cv2.INTER_AREA)
    out[top:bottom, left:right] = cv2.resize(small, (right - left, bottom - top), interpolation=cv2.INTER_NEAREST)


def pixelate_people(image: np.ndarray, boxes: np.ndarray, mode: BlurMode) -> np.ndarray:
    """``image`` with each person box (x1, y1, x2, y2 pixels) pixelated: the head part
    (``heads``) or all of it (``people``). Returns a copy; ``none`` returns ``image``."""
    if mode == "none" or len(boxes) == 0:
        return image
    out = image.copy()
    for x1, y1, x2, y2 in np.asarray(boxes, np.float32):
        if mode == "heads":
            y2 = y1 + HEAD_PART * (y2 - y1)
        _pixelate(out, np.array([x1, y1, x2, y2]), (x2 - x1) / BLOCKS)
    return out


def plate_regions(boxes: np.ndarray) -> np.ndarray:
    """The part of each vehicle box (x1, y1, x2, y2 pixels) where its plates are: the lower
    ``PLATE_PART``, full width (a car seen from the side shows a plate at either end)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
    boxes[:, 1] = boxes[:, 3] - PLATE_PART * (boxes[:, 3] - boxes[:, 1])
    return boxes


def pixelate_plates(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``image`` with the plate region of each vehicle box pixelated in blocks of
    1/``PLATE_BLOCKS`` of the vehicle's larger side. Returns a copy (``image`` when no box)."""
    if len(boxes) == 0:
        return image
    out = image.copy()
    for vehicle, region in zip(np.asarray(boxes, np.float32), plate_regions(boxes), strict=True):
        size = max(float(vehicle[2] - vehicle[0]), float(vehicle[3] - vehicle[1]))
        _pixelate(out, region, size / PLATE_BLOCKS)
    return out


def plate_classes_of(evidence: EvidenceConfig, class_names: Sequence[str]) -> list[str]:
    """The classes whose plates are pixelated: none unless ``evidence.blur_plates``; then
    ``evidence.plate_classes`` or those of ``PLATED_CLASSES`` the model has."""
    if not evidence.blur_plates:
        return []
    if evidence.plate_classes is None:
        return [c for c in PLATED_CLASSES if c in class_names]
    return list(evidence.plate_classes)
