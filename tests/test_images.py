"""edge/images.py: pictures shrunk for people to look at, close to OpenCV's area filter."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.images import shrink


@pytest.mark.parametrize("size", [(240, 135), (320, 180), (160, 90), (200, 100), (960, 540)])
def test_a_picture_shrinks_to_the_size_asked_close_to_the_area_filter(shared: Path, size: tuple[int, int]) -> None:
    image = cv2.resize(cv2.imread(str(shared / "media/images/carpark-1920x1080.jpg")), (640, 360))
    if size == (960, 540):
        assert shrink(image, size).shape == (540, 960, 3)  # a larger size: a linear resize all the same
        return
    small = shrink(image, size)
    area = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    assert small.shape == area.shape and small.dtype == np.uint8
    difference = np.abs(small.astype(int) - area.astype(int))
    if image.shape[1] % size[0] == 0 and image.shape[0] % size[1] == 0:
        assert difference.max() <= 1  # whole factors: area filters all the way
    else:
        assert difference.mean() < 3.0 and np.percentile(difference, 99) < 25


def test_a_picture_of_the_size_asked_comes_back_as_it_is() -> None:
    image = np.zeros((135, 240, 3), np.uint8)
    assert shrink(image, (240, 135)) is image
