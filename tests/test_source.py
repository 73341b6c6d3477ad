"""Video sources: files, a real RTSP camera that dies and comes back, and the sampler."""

from __future__ import annotations

import itertools
import os
import threading
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from builders import RtspCamera, wait_for
from paho.mqtt.enums import CallbackAPIVersion

from contract import CameraStatus, camera_status_topic
from edge.config import EdgeConfig
from edge.runner import EdgeRunner
from edge.sampler import Sampler
from edge.source import Backoff, CameraSource, KeyframeGate, SourceError, read_frames
from gridpatrol.broker import LocalBroker


@pytest.fixture
def rtsp_camera(shared: Path):
    camera = RtspCamera(shared / "media/clips/carpark-320x240.mp4")
    camera.start()
    yield camera
    camera.kill()


def test_a_file_decodes_with_media_time(shared: Path) -> None:
    frames = []
    for raw in read_frames(str(shared / "media/clips/walkway-people-768x432.mp4")):
        frames.append(raw.time_s)
        if len(frames) == 21:
            image = raw.to_bgr()
            break
    assert frames[0] == 0.0 and frames[20] == pytest.approx(2.0)  # 10 fps
    assert image.shape == (432, 768, 3)


def test_pixels_are_pyavs_own_though_the_converter_is_kept_between_frames(shared: Path) -> None:
    """A source converts its frames to BGR with one swscale context for the connection (a
    frame's own is built afresh each frame, three times the CPU): the same pixels, frame for
    frame, on clips of several sizes, one of them with B-frames (the car park)."""
    import av

    for name in ("carpark-320x240.mp4", "walkway-people-768x432.mp4", "highway-stop-640x540.mp4"):
        path = str(shared / "media/clips" / name)
        with av.open(path) as container:
            own = [frame.to_ndarray(format="bgr24") for frame in itertools.islice(container.decode(video=0), 40)]
        kept = [raw.to_bgr() for raw in itertools.islice(read_frames(path), 40)]
        assert len(kept) == len(own) == 40
        assert all(np.array_equal(a, b) for a, b in zip(kept, own, strict=True)), name


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="video file not found"):
        list(read_frames(str(tmp_path / "none.mp4")))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError, match="cannot open"):
        list(read_frames(str(broken)))


def test_sampler_keeps_the_rate_in_media_time() -> None:
    sampler = Sampler(2.0)
    picked = [i / 25 for i in range(250) if sampler.due(i / 25)]  # 10 s of a 25 fps camera
    assert len(picked) == 20 and picked[1] == pytest.approx(0.52)
    assert sampler.due(30.0) and not sampler.due(30.1) and sampler.due(30.5)  # after a gap, from the new frame


def test_an_idle_camera_is_sampled_less_until_something_is_in_view() -> None:
    sampler = Sampler(2.0, idle_fps=0.25)
    frames = [i / 25 for i in range(25 * 30)]  # 30 s of a 25 fps camera
    busy_from, picked = 20.0, []
    for t in frames:
        if sampler.due(t):
            picked.append(t)
            sampler.follow(busy=t >= busy_from)
    idle = [t for t in picked if t < busy_from]
    assert idle == pytest.approx([0.0, 4.0, 8.0, 12.0, 16.0])  # every 4 s while nothing is there
    busy = picked[len(idle):]
    assert busy[0] == pytest.approx(20.0)  # the sample that sees it, then twice a second
    assert len(busy) == 20 and all(0.47 < b - a < 0.53 for a, b in itertools.pairwise(busy))
    sampler.follow(busy=False)
    assert sampler.idle


def test_an_rtsp_camera_that_dies_is_reopened_with_backoff(rtsp_camera: RtspCamera) -> None:
    statuses: list[tuple[float, str, str]] = []
    stop = threading.Event()
    source = CameraSource(
        rtsp_camera.url, backoff=Backoff(0.5, 2.0), stop=stop.is_set, open_timeout_s=3.0,
        on_status=lambda status, reason: statuses.append((time.monotonic(), status, reason)),
    )
    times: list[float] = []

    def consume() -> None:
        for raw in source.frames():
            times.append(raw.time_s)

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    deadline = time.monotonic() + 15
    while len(times) < 25 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(times) >= 25 and statuses[0][1] == "online"

    rtsp_camera.kill()
    while not any(s == "offline" for _, s, _ in statuses) and time.monotonic() < deadline + 15:
        time.sleep(0.1)
    assert any(s == "offline" for _, s, _ in statuses)
    time.sleep(3)  # down for a while: several reconnect attempts fail
    assert source.reconnects >= 2
    before = len(times)

    back = time.monotonic()
    rtsp_camera.start()
    while len(times) < before + 10 and time.monotonic() < back + 20:
        time.sleep(0.1)
    stop.set()
    reader.join(10)
    online_again = [t for t, s, _ in statuses if s == "online"][-1]
    assert len(times) >= before + 10, "no frames after the camera came back"
    assert online_again - back < 10.0  # reconnected within 10 s of the stream's return
    assert [s for _, s, _ in statuses][:3] == ["online", "offline", "online"]
    assert times == sorted(times) and times[-1] > times[before - 1] + 3  # media time ran on through the gap


def test_edge_reports_camera_status_when_the_stream_dies_and_returns(
    rtsp_camera: RtspCamera, mosquitto: LocalBroker, shared: Path, tmp_path: Path,
) -> None:
    config = EdgeConfig.model_validate({
        "edge_id": "box-rtsp",
        "model": {"path": str(shared / "models/yolo11n-coco-int8-320.onnx")},
        "mqtt": {"url": mosquitto.url},
        "cameras": [{"id": "cam-live", "url": rtsp_camera.url, "sample_fps": 1, "zones": [{
            "id": "z", "kind": "parked_bike", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "classes": ["car"],
            "dwell_s": 600, "micro_grid": "mg-017"}]}],
        "evidence": {"dir": str(tmp_path / "evidence")},
        "outbox": {"path": str(tmp_path / "outbox.sqlite")},
    })
    seen: list[CameraStatus] = []
    host, port = mosquitto.url.removeprefix("mqtt://").split(":")
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="health-board", protocol=mqtt.MQTTv5)
    watcher.on_message = lambda c, u, m: seen.append(CameraStatus.model_validate_json(m.payload))
    watcher.connect(host, int(port))
    watcher.subscribe(camera_status_topic("box-rtsp", "cam-live"), qos=1)
    watcher.loop_start()
    runner = EdgeRunner(config)
    runner.start()

    def wait_state(state: str, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if seen and seen[-1].state.value == state:
                return True
            time.sleep(0.1)
        return False

    try:
        assert wait_state("online", 30)
        rtsp_camera.kill()
        assert wait_state("offline", 30), [s.state for s in seen]
        time.sleep(20)  # down long enough for the reconnect backoff to reach its cap
        analysed = runner.workers[0].frames_analysed
        rtsp_camera.start()
        returned = time.monotonic()
        assert wait_state("online", 40), [s.state for s in seen]
        print(f"camera back online {time.monotonic() - returned:.1f} s after the stream returned")
        assert [s.state.value for s in seen][:3] == ["online", "offline", "online"]
        wait_for(lambda: runner.workers[0].frames_analysed > analysed + 2, 20, "the zones analysing again")
        assert runner.events_decided == 0  # the outage raised no violation
    finally:
        runner.stop_event.set()
        runner.stop(flush_timeout_s=2)
        watcher.loop_stop()


def test_keyframes_only_once_the_stream_shows_they_come_often_enough(shared: Path) -> None:
    # The car-park clip has a keyframe every 2 s (50 frames at 25 fps).
    clip = str(shared / "media/clips/carpark-320x240.mp4")
    every = [raw.time_s for raw in read_frames(clip)]
    gate = KeyframeGate("auto", sample_interval_s=2.0)
    sparse = [raw.time_s for raw in read_frames(clip, gate=gate)]
    assert gate.keyframes_only
    # The first keyframe interval is measured on fully decoded frames; after that only
    # keyframes reach the decoder: one frame every 2 s, at the same media times.
    assert len(every) == 1823 and sparse[:51] == every[:51]  # keyframes at 0 and 2 s seen
    tail = sparse[50:]
    assert len(tail) == 36 and tail[0] == 2.0  # 2, 4, ..., 72 s
    assert all(abs((b - a) - 2.0) < 1e-3 for a, b in pairwise(tail))
    assert set(sparse) <= set(every)
    # A sample rate above the keyframe rate keeps decoding everything.
    assert len(list(read_frames(clip, gate=KeyframeGate("auto", sample_interval_s=1.0)))) == len(every)
    looped = CameraSource(clip, loop=True)
    times = [raw.time_s for _, raw in zip(range(len(every) + 5), looped.frames(), strict=False)]
    assert times[len(every)] > times[len(every) - 1]  # played again, media time going on


def test_samples_stay_on_the_keyframes_of_a_29_97_fps_camera() -> None:
    """A "2 s" GOP at 29.97 fps is 60 frames, 2.002 s: on a plain 1 s grid the samples drift off
    the keyframes (after ten minutes they sit 0.3 s away); taking the keyframe for its due
    sample keeps every other sample on a keyframe, the rate unchanged."""
    frame_s, gop = 1001 / 30000, 60
    frames = [(i * frame_s, i % gop == 0) for i in range(round(600 / frame_s))]
    plain, snapped = Sampler(1.0), Sampler(1.0)
    plain_keys = [t for t, key in frames if plain.due(t) and key]
    picked = [(t, key) for t, key in frames if snapped.due(t, key)]
    assert len(plain_keys) < 50  # of 300 keyframes: the grid left them after ~17 GOPs
    assert [key for _, key in picked] == [True, False] * (len(picked) // 2)
    assert len(picked) == 600 and all(0.99 < b[0] - a[0] < 1.01 for a, b in pairwise(picked))
    # a keyframe a little early (a GOP a little short of 2 s) is taken for the due sample too
    early = Sampler(1.0)
    assert early.due(0.0, True) and early.due(1.0) and not early.due(1.9, True) and early.due(1.97, True)
    assert not early.due(2.9) and early.due(2.97)  # the grid goes on from the keyframe


def test_the_rest_of_a_gop_is_not_decoded_once_the_next_sample_falls_on_a_keyframe(
        shared: Path, tmp_path: Path) -> None:
    """At 1 sample/s with a 2 s GOP a sample lies on each keyframe and one halfway: the frames
    after the halfway sample are decoded by nobody's need. The gate spares them; the sampled
    frames are the very ones full decoding gives, here and at other rates."""
    from builders import encode_clip

    clip = encode_clip(shared / "media/clips/street-1920x1080.mp4", tmp_path / "sub.mp4", 2.0, (320, 180), 30.0)

    def sampled(mode: str, fps: float, idle: float | None = None) -> tuple[list[float], int]:
        source = CameraSource(str(clip), gate=lambda: KeyframeGate(mode, 1.0 / fps))
        sampler, picked, decoded = Sampler(fps, idle), [], 0
        for raw in source.frames():
            decoded += 1
            if sampler.due(raw.time_s, raw.key):
                picked.append(raw.time_s)
                sampler.follow(busy=len(picked) % 5 < 3)
                source.sampled(sampler.wait_s(raw.time_s))
        return picked, decoded

    every, all_decoded = sampled("all", 1.0)
    assert all_decoded == 899 and len(every) == 30
    half, decoded = sampled("auto", 1.0)
    assert half == every
    assert decoded < 0.55 * all_decoded  # up to each halfway sample, and the keyframes
    for fps, idle in ((2.0, None), (0.7, None), (1.0, 0.25)):
        assert sampled("auto", fps, idle)[0] == sampled("all", fps, idle)[0]
    # A stream whose frames come out of order (B-frames, as the car park's) is decoded whole.
    carpark = str(shared / "media/clips/carpark-320x240.mp4")
    source = CameraSource(carpark, gate=lambda: KeyframeGate("auto", 1.0))
    sampler, decoded = Sampler(1.0), 0
    for raw in source.frames():
        decoded += 1
        if sampler.due(raw.time_s, raw.key):
            source.sampled(sampler.wait_s(raw.time_s))
    assert decoded == 1823


def test_a_live_main_stream_gives_its_latest_keyframe_and_none_once_it_is_gone(rtsp_camera: RtspCamera) -> None:
    """A camera detected on its substream takes its evidence from the main stream (here the
    RTSP camera): read keyframe by keyframe in its own thread, the latest picture at hand;
    when the stream dies, no stale picture passes for now (evidence falls back to the
    substream), and it comes back with the stream."""
    from edge.mainstream import MainStream

    stop = threading.Event()
    main = MainStream(rtsp_camera.url, stop=stop.is_set, max_age_s=3.0)
    main.start()
    try:
        wait_for(lambda: main.at(0.0) is not None, 20, "the main stream's first keyframe")
        assert main.at(0.0).shape == (240, 320, 3)
        count = main.keyframes
        wait_for(lambda: main.keyframes >= count + 2, 10, "keyframes every 2 s")
        rtsp_camera.kill()
        wait_for(lambda: main.at(0.0) is None, 10, "the picture to age out")
        rtsp_camera.start()
        wait_for(lambda: main.at(0.0) is not None, 30, "the main stream back")
    finally:
        stop.set()


def test_a_live_camera_is_decoded_only_up_to_each_gops_halfway_sample(shared: Path, tmp_path: Path) -> None:
    """Over RTSP (a real server, frames arriving in real time and timed by the wall clock) the
    first frames come late and then in a burst, which set the samples' grid just before the
    keyframes; the first keyframe after such a sample moves the grid onto the keyframes, and
    from then on every other sample is a keyframe and about half of each 2 s GOP is decoded,
    as with a file."""
    from builders import encode_clip

    clip = encode_clip(shared / "media/clips/street-1920x1080.mp4", tmp_path / "cam.mp4", 2.0, (320, 180), 30.0)
    camera = RtspCamera(clip)
    camera.start()
    try:
        source = CameraSource(camera.url, gate=lambda: KeyframeGate("auto", 1.0))
        sampler, picked = Sampler(1.0), []
        for decoded, raw in enumerate(source.frames(), start=1):
            if sampler.due(raw.time_s, raw.key):
                picked.append((raw.time_s, raw.key, decoded))
                source.sampled(sampler.wait_s(raw.time_s))
            if len(picked) == 14:
                break
    finally:
        camera.kill()
    assert all(0.9 < b[0] - a[0] < 1.3 for a, b in pairwise(picked))  # one longer interval, to move the grid
    settled = picked[-9:]  # the last 8 s
    assert [key for _, key, _ in settled] in ([True, False] * 4 + [True], [False, True] * 4 + [False])
    frames = settled[-1][2] - settled[0][2]
    assert frames < 0.6 * 29.97 * (settled[-1][0] - settled[0][0])  # of the frames that came meanwhile


def test_decoders_run_on_one_thread_each_where_the_streams_fill_the_cores() -> None:
    from edge.source import decode_threads

    cores = os.cpu_count() or 1
    assert decode_threads(cores) == 1 and decode_threads(4 * cores) == 1
    assert decode_threads(cores - 1) == (0 if cores > 1 else 1)
