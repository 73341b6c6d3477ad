"""Many edge boxes from one town config: the planner's arithmetic, `gridpatrol plan`, and each
box running only the cameras assigned to it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from builders import RtspCamera

from contract.configfile import ConfigError
from edge.config import load_edge_config
from edge.probe import StreamProfile, probe_stream
from gridpatrol.plan import BoxCapacity, MeasuredRun, PlannedCamera, cameras_per_box, load_capacity, plan, town_cameras

FULL_HD = StreamProfile(1920, 1080, 30.0, 2.0)
# A box whose pipeline handled 16 Full HD cameras (2 s GOP) at 0.5 samples/s.
BOX = BoxCapacity(host="test-box", cores=2, model="yolo11n-coco-int8-320", inference_per_s=30.0,
                  decode_mpix_per_s=300.0,
                  measured=MeasuredRun(cameras=16, width=1920, height=1080, fps=30.0, gop_s=2.0, sample_fps=0.5))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gridpatrol.cli", *args], capture_output=True, text=True, timeout=120)


def test_a_box_takes_as_many_cameras_as_its_measured_run_handled() -> None:
    assert cameras_per_box(BOX, FULL_HD, 0.5, headroom=1.0) == 16
    assert cameras_per_box(BOX, FULL_HD, 0.5, headroom=0.8) == 12
    # the same cameras sampled 4x as often: inference grows, and keyframes (every 2 s) no longer
    # suffice, so every frame is decoded
    assert cameras_per_box(BOX, FULL_HD, 2.0, headroom=1.0) < 4


def test_keyframes_only_where_they_come_as_often_as_samples() -> None:
    assert FULL_HD.decoded_fps(0.5, "auto") == 0.5  # one keyframe per 2 s sample interval
    # a 1 s interval needs the frames up to the halfway sample, then the next keyframe
    assert FULL_HD.decoded_fps(1.0, "auto") == pytest.approx(15.5)
    assert FULL_HD.decoded_fps(2.0, "auto") == pytest.approx(23.0)  # up to 1.5 s of each 2 s GOP
    assert FULL_HD.decoded_fps(0.5, "all") == 30.0
    assert StreamProfile(1920, 1080, 30.0, None).decoded_fps(0.5, "auto") == 30.0  # GOP unknown


def test_cameras_fill_boxes_in_order_up_to_the_headroom() -> None:
    cameras = [PlannedCamera(f"cam-{n:02d}", FULL_HD, 0.5) for n in range(30)]
    boxes = plan(cameras, BOX, headroom=0.8)
    assert [len(b.cameras) for b in boxes] == [12, 12, 6]
    assert [c.id for b in boxes for c in b.cameras] == [c.id for c in cameras]
    assert all(b.load <= 0.8 for b in boxes)
    heavy = PlannedCamera("cam-4k", StreamProfile(3840, 2160, 30.0, None), 5.0)
    with pytest.raises(ValueError, match="camera cam-4k alone needs"):
        plan([heavy], BOX)


def test_each_live_stream_a_camera_sends_costs_the_box_what_reading_one_took() -> None:
    # bench/stream_read.py measured reading one RTSP stream at 1 % of a core
    live = BOX.model_copy(update={"live_stream_cores": 0.01})
    assert live.load(FULL_HD, 0.5) == pytest.approx(BOX.load(FULL_HD, 0.5))  # files are read for nothing
    assert live.load(FULL_HD, 0.5, live_streams=2) == pytest.approx(BOX.load(FULL_HD, 0.5) + 2 * 0.01 / 2)
    assert cameras_per_box(live, FULL_HD, 0.5, 1.0, live_streams=2) < cameras_per_box(BOX, FULL_HD, 0.5, 1.0) == 16
    cameras = [PlannedCamera(f"cam-{n:02d}", FULL_HD, 0.5, live_streams=2) for n in range(12)]
    assert [len(b.cameras) for b in plan(cameras, live, headroom=0.8)] == [
        cameras_per_box(live, FULL_HD, 0.5, 0.8, live_streams=2), 12 - cameras_per_box(live, FULL_HD, 0.5, 0.8,
                                                                                         live_streams=2)]


def test_a_camera_with_a_substream_is_planned_on_the_substream_and_both_streams_read_live(
        shared: Path, tmp_path: Path) -> None:
    # real RTSP servers: the main stream (Full HD) and the substream (the car park clip, 320x240)
    main = RtspCamera(shared / "media/clips/street-1920x1080.mp4")
    substream = RtspCamera(shared / "media/clips/carpark-320x240.mp4")
    main.start()
    substream.start()
    try:
        config = town(shared, tmp_path, cameras=2)
        document = yaml.safe_load(config.read_text())
        document["cameras"][0].update(url=main.url, detect_url=substream.url)
        config.write_text(yaml.safe_dump(document))
        with_sub, from_file = town_cameras(load_edge_config(config), FULL_HD, probe_stream)
    finally:
        main.kill()
        substream.kill()
    assert (with_sub.stream.width, with_sub.stream.height, with_sub.live_streams) == (320, 240, 2)
    assert with_sub.main is not None and (with_sub.main.width, with_sub.main.height) == (1920, 1080)
    # the box receives both streams: the uplink counts the main stream's bitrate too
    assert with_sub.stream.bitrate_kbps and with_sub.main.bitrate_kbps
    assert with_sub.bitrate_kbps == pytest.approx(with_sub.stream.bitrate_kbps + with_sub.main.bitrate_kbps)
    assert with_sub.main.bitrate_kbps > with_sub.stream.bitrate_kbps
    assert (from_file.stream.width, from_file.stream.height, from_file.live_streams) == (1920, 1080, 0)
    assert from_file.main is None


def test_a_capacity_file_with_a_bad_key_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "capacity.json"
    bad.write_text(json.dumps({**BOX.model_dump(), "inference_per_s": 0}))
    with pytest.raises(ConfigError, match=r"capacity.json: inference_per_s: .*greater than 0"):
        load_capacity(bad)


def town(shared: Path, tmp_path: Path, cameras: int = 5, **camera_keys: object) -> Path:
    clip = shared / "media/clips/street-1920x1080.mp4"
    config = {
        "edge_id": "box-01",
        "model": {"path": str(shared / "models/yolo11n-coco-int8-320.onnx")},
        "cameras": [{"id": f"cam-{n}", "url": str(clip), "sample_fps": 0.5, **camera_keys,
                     "zones": [{"id": "z1", "kind": "parked_bike", "micro_grid": "mg-017", "classes": ["bicycle"],
                                "dwell_s": 60,
                                "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}]}
                    for n in range(1, cameras + 1)],
    }
    path = tmp_path / "town.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_plan_assigns_a_town_and_each_box_runs_only_its_cameras(shared: Path, tmp_path: Path) -> None:
    capacity = tmp_path / "capacity.json"
    capacity.write_text(BOX.model_dump_json())
    config, planned = town(shared, tmp_path), tmp_path / "planned.yaml"
    # the shared clip is Full HD at 29.97 fps, sent with no regular keyframes: every frame decoded
    stream = probe_stream(str(shared / "media/clips/street-1920x1080.mp4"))
    assert (stream.width, stream.height, round(stream.fps)) == (1920, 1080, 30)
    per_box = cameras_per_box(BOX, stream, 0.5)
    assert 1 <= per_box < 5

    done = cli("plan", "--capacity", str(capacity), "--config", str(config), "--probe", "--write", str(planned))
    assert done.returncode == 0, done.stderr
    boxes = -(-5 // per_box)
    assert f"5 cameras on {boxes} boxes" in done.stdout
    town_config = load_edge_config(planned)
    assert town_config.boxes() == [f"box-{n:02d}" for n in range(1, boxes + 1)]
    first = town_config.for_box("box-01")
    assert (first.edge_id, [c.id for c in first.cameras]) == ("box-01", [f"cam-{n}" for n in range(1, per_box + 1)])
    last = town_config.for_box(f"box-{boxes:02d}")
    assert last.edge_id == f"box-{boxes:02d}" and last.cameras[-1].id == "cam-5"

    refused = cli("edge", "run", "--config", str(planned), "--edge-id", "box-77")
    assert refused.returncode == 2
    assert "no cameras are assigned to edge box 'box-77' (boxes named: box-01" in refused.stderr


def test_sizing_a_town_before_its_config_exists(tmp_path: Path) -> None:
    capacity = tmp_path / "capacity.json"
    capacity.write_text(BOX.model_dump_json())
    done = cli("plan", "--capacity", str(capacity), "--cameras", "1150", "--size", "1920x1080", "--fps", "30",
               "--gop-s", "2", "--sample-fps", "0.5")
    assert done.returncode == 0, done.stderr
    assert "1150 cameras on 96 boxes" in done.stdout  # 12 per box at 80 %
    assert "live stream reading not measured" in done.stdout

    # the same cameras sending a main stream and a substream, on a box that measured reading one
    live = BOX.model_copy(update={"live_stream_cores": 0.01})
    capacity.write_text(live.model_dump_json())
    done = cli("plan", "--capacity", str(capacity), "--cameras", "1150", "--size", "1920x1080", "--fps", "30",
               "--gop-s", "2", "--sample-fps", "0.5", "--live-streams", "2")
    assert done.returncode == 0, done.stderr
    per_box = cameras_per_box(live, FULL_HD, 0.5, 0.8, live_streams=2)
    assert per_box < 12
    assert f"1150 cameras on {-(-1150 // per_box)} boxes" in done.stdout
    assert "10.0 ms of CPU per second per live stream read" in done.stdout


def test_a_town_config_with_unassigned_cameras_is_refused(shared: Path, tmp_path: Path) -> None:
    config = town(shared, tmp_path, cameras=3)
    document = yaml.safe_load(config.read_text())
    document["cameras"][0]["edge"] = "box-01"
    config.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match="cameras cam-2, cam-3 have no `edge` while others have one"):
        load_edge_config(config)


def test_a_shop_front_camera_costs_what_the_foreground_run_took_beyond_a_plain_one() -> None:
    # the same bench with the zone also counting stationary things handled 12 cameras, not 16
    shop = BOX.model_copy(update={"measured_foreground": MeasuredRun(
        cameras=12, width=1920, height=1080, fps=30.0, gop_s=2.0, sample_fps=0.5)})
    assert shop.foreground_s == pytest.approx((1 / 12 - 1 / 16) / 0.5)
    assert cameras_per_box(shop, FULL_HD, 0.5, headroom=1.0, foreground=True) == 12
    assert cameras_per_box(shop, FULL_HD, 0.5, headroom=1.0) == 16  # a plain camera as before
    # at twice the rate the background model runs twice as often
    assert shop.load(FULL_HD, 1.0, foreground=True) - shop.load(FULL_HD, 1.0) == pytest.approx(
        2 * (shop.load(FULL_HD, 0.5, foreground=True) - shop.load(FULL_HD, 0.5)))
    mixed = [PlannedCamera(f"cam-{n:02d}", FULL_HD, 0.5, foreground=n % 2 == 0) for n in range(28)]
    boxes = plan(mixed, shop, headroom=1.0)
    # shop fronts take 1/12 of a box, the others 1/16: 7 + 6 fill 0.96 of it, one more 1.02
    assert [len(b.cameras) for b in boxes] == [13, 13, 2] and all(b.load <= 1.0 + 1e-9 for b in boxes)
    assert BOX.foreground_s is None and BOX.load(FULL_HD, 0.5, foreground=True) == BOX.load(FULL_HD, 0.5)


def test_a_shop_fronts_cost_is_the_camera_threads_cpu_a_sample_beyond_the_plain_runs_where_both_give_it() -> None:
    # both runs held back by the lag, not the cores: the counts say nothing (44 shop fronts
    # against 40 plain cameras); the camera threads' CPU a sample does
    runs = {"width": 1920, "height": 1080, "fps": 30.0, "gop_s": 2.0, "sample_fps": 0.5}
    shop = BOX.model_copy(update={
        "measured": MeasuredRun(cameras=40, camera_ms_per_sample=28.8, **runs),
        "measured_foreground": MeasuredRun(cameras=44, camera_ms_per_sample=31.2, **runs)})
    assert shop.foreground_s == pytest.approx(2.4 / 1000 / 2)  # 2.4 ms of CPU on a 2-core box
    assert shop.load(FULL_HD, 0.5, foreground=True) - shop.load(FULL_HD, 0.5) == pytest.approx(0.5 * 2.4 / 1000 / 2)
    counts_only = shop.model_copy(update={"measured": MeasuredRun(cameras=40, **runs)})
    assert counts_only.foreground_s == 0.0  # 44 handled against 40: no measurable cost that way


def test_the_planner_finds_the_shop_fronts_of_a_town_and_warns_where_their_cost_is_unmeasured(
        shared: Path, tmp_path: Path) -> None:
    config = town(shared, tmp_path, cameras=4)
    document = yaml.safe_load(config.read_text())
    for camera in document["cameras"][2:]:
        camera["zones"][0].update(kind="cross_door_trading", classes=["stationary_object", "bicycle"])
    config.write_text(yaml.safe_dump(document))
    assert [c.foreground for c in town_cameras(load_edge_config(config), FULL_HD)] == [False, False, True, True]
    capacity = tmp_path / "capacity.json"
    capacity.write_text(BOX.model_dump_json())
    done = cli("plan", "--capacity", str(capacity), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "2 cameras watch shop fronts" in done.stderr and "--foreground" in done.stderr
    measured = BOX.model_copy(update={"measured_foreground": MeasuredRun(
        cameras=12, width=1920, height=1080, fps=30.0, gop_s=2.0, sample_fps=0.5)})
    capacity.write_text(measured.model_dump_json())
    done = cli("plan", "--capacity", str(capacity), "--config", str(config))
    assert done.returncode == 0 and "warning" not in done.stderr
    ms = 1000 * 2 * (1 / 12 - 1 / 16) / 0.5
    assert f"2 cameras watch shop fronts: {ms:.0f} ms of CPU a sample more each" in done.stdout
    done = cli("plan", "--capacity", str(capacity), "--cameras", "28", "--shop-fronts", "--headroom", "1")
    assert done.returncode == 0 and "28 cameras on 3 boxes" in done.stdout  # 12 a box
