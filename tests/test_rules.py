"""Tracker and dwell rules on scripted scenes (exact timings, no detector noise)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from builders import MEDIA_START as START
from builders import camera_analyzer, camera_config, zone_config
from builders import detections_of as dets

from contract import EventState
from edge.analyzer import CameraAnalyzer
from edge.config import TrackingConfig
from edge.detections import COCO_NAMES, Detections
from edge.event_builder import EventBuilder

BIKE, PERSON, CAR = COCO_NAMES.index("bicycle"), COCO_NAMES.index("person"), COCO_NAMES.index("car")
FRAME = (640, 480)


def analyzer(dwell_s: float = 10.0, clear_s: float = 5.0, classes: tuple[str, ...] = ("bicycle",),
             realert_s: float | None = None) -> CameraAnalyzer:
    zone = zone_config(classes=list(classes), dwell_s=dwell_s, clear_s=clear_s, realert_s=realert_s)
    return camera_analyzer(camera_config(zone))


def run(an: CameraAnalyzer, scene, until_s: float, step_s: float = 0.5) -> list:
    """The events of ``scene`` (media time → detections) sampled every ``step_s``."""
    events = []
    builder = EventBuilder(an.edge_id, an.camera.id, an.class_names, an.clock)
    for i in range(int(until_s / step_s) + 1):
        t = i * step_s
        for decision in an.update(t, scene(t), FRAME):
            events.append(builder.event(decision))
    return events


BIKE_BOX = (300.0, 300.0, 360.0, 380.0)


def jitter(box, t):
    dx = 1.0 if int(t * 2) % 2 else -1.0
    return (box[0] + dx, box[1], box[2] + dx, box[3])


def test_a_parked_bike_opens_once_at_dwell_and_clears_after_clear_s() -> None:
    an = analyzer(dwell_s=10, clear_s=5)
    events = run(an, lambda t: dets((jitter(BIKE_BOX, t), BIKE)) if t < 30 else dets(), 45)
    assert [e.state for e in events] == [EventState.opened, EventState.cleared]
    opened, cleared = events
    assert (opened.observed_at - START).total_seconds() == 10.0
    assert opened.started_at == START and opened.dwell_s == 10.0
    assert (cleared.observed_at - START).total_seconds() == 29.5 + 5.0
    assert cleared.violation_id == opened.violation_id and cleared.event_id != opened.event_id
    assert opened.objects[0].class_name == "bicycle"


def test_a_violation_still_standing_is_re_alerted_every_realert_s() -> None:
    an = analyzer(dwell_s=10, clear_s=5, realert_s=30)
    events = run(an, lambda t: dets((jitter(BIKE_BOX, t), BIKE)) if t < 100 else dets(), 120)
    # Standing from 0 to 99.5 s: opened at 10 s, reminded at 40 and 70 s, cleared 5 s after it left.
    assert [e.state for e in events] == [EventState.opened, EventState.updated, EventState.updated,
                                         EventState.cleared]
    assert [(e.observed_at - START).total_seconds() for e in events] == [10.0, 40.0, 70.0, 104.5]
    assert [e.dwell_s for e in events[1:3]] == [40.0, 70.0]  # the dwell so far, for the dispatcher
    assert len({e.event_id for e in events}) == 4 and len({e.violation_id for e in events}) == 1
    without = run(analyzer(dwell_s=10, clear_s=5), lambda t: dets((jitter(BIKE_BOX, t), BIKE)) if t < 100 else dets(),
                  120)
    assert [e.state for e in without] == [EventState.opened, EventState.cleared]


def test_a_pedestrian_walking_in_front_does_not_reset_the_clock() -> None:
    an = analyzer(dwell_s=10, clear_s=5)

    def scene(t: float) -> Detections:
        walker_x = 100 + 80 * (t - 4)  # walks left to right through the bike between t=4 and t=8
        walker = ((walker_x, 250.0, walker_x + 50, 400.0), PERSON)
        if 4 <= t <= 8:
            hidden = abs((walker_x + 25) - 330) < 60  # the bike is not detected while covered
            return dets(walker) if hidden else dets(walker, (BIKE_BOX, BIKE))
        return dets((BIKE_BOX, BIKE))

    events = run(an, scene, 12)
    assert [e.state for e in events] == [EventState.opened]
    assert (events[0].observed_at - START).total_seconds() == 10.0  # counted from t=0, not from the pass


def test_detector_flicker_and_a_new_track_id_keep_one_violation() -> None:
    an = analyzer(dwell_s=10, clear_s=5)
    # Seen in two samples of three, then unseen from 11 s to 15 s: longer than a track lives
    # (3 s), shorter than clear_s (5 s). It is found again under a new track id.
    def scene(t: float) -> Detections:
        if 12 <= t < 15 or int(t * 2) % 3 == 2:
            return dets()
        return dets((jitter(BIKE_BOX, t), BIKE))

    events = run(an, scene, 40)
    assert [e.state for e in events] == [EventState.opened]
    assert an.rules[0].spots[0].track_id != 1  # a new track took over the same spot


def test_cars_passing_the_same_place_one_by_one_are_not_a_parked_car() -> None:
    # RoadTrack N/05-14_14_K249_2000, frames 452-482: a car leaves the view at the bottom;
    # 3 s later the next one leaves through the same place, in two samples. Three sightings
    # "in place" over 3 s, but in 3 of 7 samples: no rest, so no parked car.
    an = analyzer(dwell_s=3, clear_s=10, classes=("car",))
    exit_box = (300.0, 380.0, 380.0, 470.0)

    def scene(t: float) -> Detections:
        if t in (0.0, 2.5, 3.0):
            return dets((exit_box, CAR))
        return dets(((310.0 + 10 * t, 250.0, 360.0 + 10 * t, 300.0), CAR)) if 1.0 <= t < 2.5 else dets()

    assert run(an, scene, 20) == []
    # The same three sightings with the car seen in every sample between: parked.
    parked = run(analyzer(dwell_s=3, clear_s=10, classes=("car",)), lambda t: dets((exit_box, CAR)), 20)
    assert [e.state for e in parked] == [EventState.opened]


def test_a_far_truck_coming_slowly_toward_the_camera_is_not_parked() -> None:
    # RoadTrack N/06-10_09_K204_2000, frames 777-836: a truck near the vanishing point comes
    # closer; its 20 px box grows a pixel a second and its centre moves less than that, all
    # within the stillness tolerance (3 px) for the 3 s dwell. The boxes' steady drift gives it
    # away; the same box jittering about one place is parked.
    def box(t: float, speed: float) -> tuple[float, float, float, float]:
        grow, dx = speed * 1.2 * t, 0.5 if int(t * 10) % 2 else -0.5
        return (310.0 - grow / 2 + dx, 297.0 + 0.4 * speed * t, 321.0 + grow / 2 + dx, 314.0 + speed * 1.6 * t)

    def trucks(speed: float) -> list:
        an = analyzer(dwell_s=3, clear_s=10, classes=("truck",))
        return run(an, lambda t: dets((box(t, speed), COCO_NAMES.index("truck"))) if t < 5.5 else dets(), 20, 0.1)

    assert trucks(speed=1.0) == []
    assert [e.state for e in trucks(speed=0.0)] == [EventState.opened, EventState.cleared]
    # Without the drift test (a limit no drift reaches), the coming truck would open.
    an = analyzer(dwell_s=3, clear_s=10, classes=("truck",))
    an.tracker.cfg = TrackingConfig(still_max_drift=100.0)
    coming = run(an, lambda t: dets((box(t, 1.0), COCO_NAMES.index("truck"))) if t < 5.5 else dets(), 20, 0.1)
    assert EventState.opened in [e.state for e in coming]


def test_a_car_creeping_along_under_an_open_violation_stays_one_violation() -> None:
    # Parked, then edged 30 px further every 20 s (stops again each time): one violation,
    # its box following the car, never a second one beside it.
    an = analyzer(dwell_s=5, clear_s=10, classes=("car",))

    def scene(t: float) -> Detections:
        x = 200.0 + 30 * min(int(t // 20), 3)
        return dets((jitter((x, 300.0, x + 60, 360.0), t), CAR)) if t < 90 else dets()

    events = run(an, scene, 110)
    assert [e.state for e in events] == [EventState.opened, EventState.cleared]
    assert events[1].objects[0].bbox[0] >= 289.0  # the spot moved with the car


def test_a_stop_missed_longer_than_clear_s_goes_on_as_the_same_violation() -> None:
    # RoadTrack P/04-15_14_K295_1203: a distant car stands 45 s; the detector loses it twice for
    # more than clear_s. One stop, one violation: cleared when unseen for clear_s, then an
    # updated event under the same violation id when it is seen again, never a second opened.
    an = analyzer(dwell_s=5, clear_s=5)
    events = run(an, lambda t: dets((jitter(BIKE_BOX, t), BIKE)) if t < 20 or 30 <= t < 45 else dets(), 60)
    assert [e.state for e in events] == [EventState.opened, EventState.cleared, EventState.updated,
                                         EventState.cleared]
    assert len({e.violation_id for e in events}) == 1 and len({e.event_id for e in events}) == 4
    again = events[2]
    assert (again.observed_at - START).total_seconds() == 35.0  # back from 30 s, still again for dwell_s
    assert again.dwell_s == 35.0 and again.started_at == START  # the stop's own dwell clock
    # With rejoining turned off the same scene opens a second violation.
    off = analyzer(dwell_s=5, clear_s=5)
    off.tracking = off.tracking.model_copy(update={"rejoin_s": 0.0})
    off.tracker.cfg = off.tracking
    events = run(off, lambda t: dets((jitter(BIKE_BOX, t), BIKE)) if t < 20 or 30 <= t < 45 else dets(), 60)
    assert [e.state for e in events].count(EventState.opened) == 2


def test_a_bike_parked_at_a_spot_long_after_the_last_one_left_is_a_new_violation() -> None:
    an = analyzer(dwell_s=5, clear_s=5)
    an.tracking = an.tracking.model_copy(update={"rejoin_s": 20.0})
    events = run(an, lambda t: dets((jitter(BIKE_BOX, t), BIKE)) if t < 20 or t >= 50 else dets(), 70)
    assert [e.state for e in events] == [EventState.opened, EventState.cleared, EventState.opened]
    assert len({e.violation_id for e in events}) == 2


def test_a_stop_that_edged_forward_while_missed_continues_its_violation() -> None:
    # RoadTrack P/04-14_14_K287_2667: unseen for 12 s, the car is found again 1.3 box sizes
    # along (the camera zoomed out meanwhile): within rejoin_distance (2), the same stop.
    an = analyzer(dwell_s=5, clear_s=5)
    moved = (BIKE_BOX[0] - 70, BIKE_BOX[1] - 60, BIKE_BOX[2] - 70, BIKE_BOX[3] - 60)
    events = run(an, lambda t: dets((BIKE_BOX, BIKE)) if t < 20 else dets((moved, BIKE)) if t >= 32 else dets(), 50)
    assert [e.state for e in events] == [EventState.opened, EventState.cleared, EventState.updated]
    assert len({e.violation_id for e in events}) == 1 and events[2].objects[0].bbox == moved
    far = (BIKE_BOX[0] - 200, BIKE_BOX[1], BIKE_BOX[2] - 200, BIKE_BOX[3])  # 2.5 box sizes away: another bike
    an = analyzer(dwell_s=5, clear_s=5)
    events = run(an, lambda t: dets((BIKE_BOX, BIKE)) if t < 20 else dets((far, BIKE)) if t >= 32 else dets(), 50)
    assert [e.state for e in events] == [EventState.opened, EventState.cleared, EventState.opened]


def test_a_second_box_on_a_standing_violation_opens_nothing() -> None:
    # RoadTrack P/04-19_09_K287_1892: a parked car's violation is open; the detector then
    # gives it a second, larger box (IoU 0.4 with the first) for a while. Still one violation.
    an = analyzer(dwell_s=5, clear_s=10, classes=("car",))
    car = (283.0, 290.0, 300.0, 315.0)
    second = (276.0, 290.0, 294.0, 317.0)
    events = run(an, lambda t: dets((car, CAR), (second, CAR)) if t >= 20 else dets((car, CAR)), 60)
    assert [e.state for e in events] == [EventState.opened]


def test_on_a_calibrated_ground_stillness_is_judged_in_metres() -> None:
    """A far bike moving a pixel a second looks still in image terms (its 60 px box allows 12 px
    of wander and the drift test 6 px); where the zone's ground plane says a pixel is 2 m
    there, it is riding at 7 km/h, not parked. Where a pixel is a centimetre, the same box's
    one-pixel jitter is still."""
    def scene(t: float) -> Detections:
        return dets(((300.0 + t, 300.0, 360.0 + t, 380.0), BIKE))

    def zone(metres_per_px: float):
        # normalized x, y → metres: x * 640 px, y * 480 px, times metres per pixel
        return zone_config(dwell_s=5, ground={"homography": [[640 * metres_per_px, 0, 0], [0, 480 * metres_per_px, 0],
                                                             [0, 0, 1]]})

    assert [e.state for e in run(analyzer(dwell_s=5), scene, 12)] == [EventState.opened]
    assert run(camera_analyzer(camera_config(zone(2.0))), scene, 12) == []
    still = run(camera_analyzer(camera_config(zone(0.01))), lambda t: dets((jitter(BIKE_BOX, t), BIKE)), 12)
    assert [e.state for e in still] == [EventState.opened]
    # The four-point form: the zone's corners and where they lie in metres (a 6.4 x 2.4 m bay).
    bay = zone_config(dwell_s=5, ground={"image": [(0, 0.5), (1, 0.5), (1, 1), (0, 1)],
                                         "metres": [(0, 0), (6.4, 0), (6.4, 2.4), (0, 2.4)]})
    assert [e.state for e in run(camera_analyzer(camera_config(bay)), scene, 12)] == [EventState.opened]


def test_moving_bikes_never_open() -> None:
    an = analyzer(dwell_s=5, clear_s=5)

    def scene(t: float) -> Detections:
        x = (t * 40) % 600  # ridden across the zone again and again
        slow_x = 20 + t * 6  # walked slowly: 6 px/s, a box 60 px wide
        return dets(((x, 300.0, x + 60, 380.0), BIKE), ((slow_x, 390.0, slow_x + 60, 470.0), BIKE))

    assert run(an, scene, 60) == []


def test_objects_outside_the_zone_or_of_other_classes_are_ignored() -> None:
    an = analyzer(dwell_s=5, clear_s=5)
    above_zone = (300.0, 50.0, 360.0, 200.0)  # ground point at y=200 < 240
    events = run(an, lambda t: dets((above_zone, BIKE), (BIKE_BOX, CAR), (BIKE_BOX, PERSON)), 20)
    assert events == []


def test_two_bikes_are_two_violations() -> None:
    an = analyzer(dwell_s=5, clear_s=5)
    other = (420.0, 300.0, 480.0, 380.0)
    events = run(an, lambda t: dets((BIKE_BOX, BIKE), (other, BIKE)), 8)
    assert len({e.violation_id for e in events}) == 2
    assert all(e.state is EventState.opened for e in events)


def test_a_zone_counts_dwell_only_in_its_active_hours() -> None:
    # 08:00 in Shanghai is START + 0 s; the zone is enforced from 08:00:20 on weekdays.
    zone = zone_config(kind="cross_door_trading",
                       active=[{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00:20", "end": "20:00"}])
    camera = camera_config(zone)
    shanghai_8am = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday, 08:00 in Asia/Shanghai
    an = camera_analyzer(camera, start=shanghai_8am)  # the town's zone: Asia/Shanghai by default
    events = run(an, lambda t: dets((BIKE_BOX, BIKE)), 40)
    assert [e.state for e in events] == [EventState.opened]
    # Standing since 08:00:00, but counted from 08:00:20 (when the zone became active) + 10 s dwell.
    assert (events[0].observed_at - shanghai_8am).total_seconds() >= 30.0
    saturday = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    an = camera_analyzer(camera, start=saturday)
    assert run(an, lambda t: dets((BIKE_BOX, BIKE)), 40) == []


def test_boxes_smaller_than_the_zone_minimum_are_ignored() -> None:
    an = camera_analyzer(camera_config(zone_config(dwell_s=5, min_box_px=100)))
    assert run(an, lambda t: dets((BIKE_BOX, BIKE)), 20) == []  # 60x80 px < 100 px


def test_a_shop_fronts_door_line_keeps_what_stands_inside_the_shop_out() -> None:
    """The strip is drawn generously, over the shop's open door too; the door line at y=0.6
    says where the shop ends: a chair inside the shop never counts, a table put out across
    the threshold does, and so does goods standing right on the line."""
    zone = zone_config(id="front", kind="cross_door_trading", polygon=[(0.0, 0.4), (1.0, 0.4), (1.0, 1.0), (0.0, 1.0)],
                       door_line=((0.0, 0.6), (1.0, 0.6)), classes=["chair", "dining table"], dwell_s=5,
                       micro_grid=None, shop_id="shop-0012")
    camera = camera_config(zone)
    chair, table = COCO_NAMES.index("chair"), COCO_NAMES.index("dining table")
    inside_shop = (100.0, 200.0, 160.0, 270.0)  # ground point y=270 < 288 (0.6 of 480): behind the door line
    put_out = (300.0, 300.0, 420.0, 380.0)  # ground point y=380: on the pavement
    on_the_line = (500.0, 230.0, 560.0, 288.0)
    assert run(camera_analyzer(camera), lambda t: dets((inside_shop, chair)), 20) == []
    an = camera_analyzer(camera)
    events = run(an, lambda t: dets((inside_shop, chair), (put_out, table), (on_the_line, chair)), 20)
    opened = sorted(tuple(e.objects[0].bbox) for e in events if e.state is EventState.opened)
    assert opened == [put_out, on_the_line] and all(e.shop_id == "shop-0012" for e in events)
    # without the door line the same strip takes the chair inside the shop for goods outside
    plain = camera.model_copy(update={"zones": [zone.model_copy(update={"door_line": None})]})
    an = camera_analyzer(plain)
    assert len({e.violation_id for e in run(an, lambda t: dets((inside_shop, chair)), 20)}) == 1


def test_a_bike_with_its_rider_on_it_is_not_parked() -> None:
    """A rider waiting 20 s at a red light inside the zone raises nothing; the same bike left
    standing there does; a passer-by beside a parked bike does not hide it; and a car (not a
    two-wheeler) with a person in front of it is judged without the rider test."""
    bike = (300.0, 320.0, 380.0, 400.0)
    rider = (310.0, 250.0, 370.0, 395.0)  # head well above the bike, legs down into it
    beside = (390.0, 300.0, 430.0, 400.0)  # a pedestrian next to the bike, not over it
    assert run(analyzer(dwell_s=5), lambda t: dets((bike, BIKE), (rider, PERSON)), 20) == []
    left = run(analyzer(dwell_s=5), lambda t: dets((bike, BIKE), (rider, PERSON)) if t < 6 else dets((bike, BIKE)), 20)
    assert [e.state for e in left] == [EventState.opened]  # the rider got off and walked away
    assert (left[0].started_at - START).total_seconds() == 5.5  # parked from the last sample it was ridden in
    assert len(run(analyzer(dwell_s=5), lambda t: dets((bike, BIKE), (beside, PERSON)), 20)) == 1
    car = run(analyzer(dwell_s=5, classes=("car",)), lambda t: dets((bike, CAR), (rider, PERSON)), 20)
    assert len(car) == 1


def test_the_rider_test_on_boxes() -> None:
    from edge.riders import ridden

    bikes = np.array([[300, 320, 380, 400], [500, 320, 580, 400]], np.float32)
    assert ridden(bikes, np.zeros((0, 4), np.float32)).tolist() == [False, False]
    assert ridden(bikes, np.array([[310, 250, 370, 395]], np.float32)).tolist() == [True, False]
    nearer = np.array([[310, 250, 370, 470]], np.float32)  # a pedestrian in front, nearer the camera
    assert ridden(bikes, nearer).tolist() == [False, False]
    at_the_edge = np.array([[280, 250, 320, 395]], np.float32)  # centre over the bike's end
    assert ridden(bikes, at_the_edge).tolist() == [False, False]


def test_greedy_matching_takes_the_best_pair_left_ties_in_row_major_order() -> None:
    from edge.detections import greedy_match

    score = np.array([[0.9, 0.8, 0.0],
                      [0.85, 0.3, 0.0],
                      [0.5, 0.5, 0.2]], np.float32)
    # (0, 0) first; then row 1's best left is (1, 1) at 0.3 but (2, 1) at 0.5 comes before it
    assert greedy_match(score, 0.25) == [(0, 0), (2, 1)]
    assert greedy_match(score, 0.1) == [(0, 0), (2, 1)]  # (1, 2) is 0: never a pair
    ties = np.full((2, 2), 0.5, np.float32)
    assert greedy_match(ties, 0.3) == [(0, 0), (1, 1)]
    assert greedy_match(score, 0.95) == [] and greedy_match(np.zeros((0, 3), np.float32), 0.3) == []


def test_a_tracks_class_is_its_majority_vote_ties_to_the_class_seen_first() -> None:
    from collections import Counter

    from edge.tracker import Track

    track = Track(1, np.zeros(4, np.float32), Counter({3: 1}), 0.9, 0.0, 0.0)  # a motorcycle
    track.vote(1)  # a bicycle once: a tie, the motorcycle came first
    assert track.class_id == 3
    track.vote(1)
    assert track.class_id == 1
    track.vote(3)  # two each again: the motorcycle, seen first, as Counter.most_common has it
    assert track.class_id == 3 == track.class_votes.most_common(1)[0][0]
