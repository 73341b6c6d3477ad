"""The ``gridpatrol`` command: ``edge run``, ``edge replay``, ``dispatcher serve|token|set-password``,
``demo``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contract.configfile import ConfigError


def _start_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("--start needs a time zone, e.g. 2026-01-01T08:00:00Z")
    return value.astimezone(UTC)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {text!r}") from None
    return w, h


def cmd_edge_run(args: argparse.Namespace) -> int:
    from edge.config import load_edge_config
    from edge.runner import EdgeRunner

    config = load_edge_config(args.config)
    try:
        config = config.for_box(args.edge_id)
    except ValueError as exc:
        raise ConfigError(f"{args.config}: {exc}") from None
    runner = EdgeRunner(config, speed=args.speed, config_path=args.config)  # zones edited there apply live
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()
        runner.stop_event.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    runner.start()
    runner.wait()
    runner.stop()
    return 0


def _zones_file(path: Path) -> list:
    """Zones to try instead of the camera's: a YAML list of zones (or ``zones:`` with one), as
    in an edge config; errors name the file and the key."""
    import yaml
    from pydantic import ValidationError

    from contract.configfile import first_error
    from contract.zones import validate_zones

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if isinstance(data, dict) and "zones" in data:
        data = data["zones"]
    try:
        return validate_zones(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {first_error(exc, 'zones')}") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def cmd_edge_replay(args: argparse.Namespace) -> int:
    from edge.config import load_edge_config
    from edge.replay import replay_mot, replay_video

    config = load_edge_config(args.config)
    try:
        camera = config.camera(args.camera)
    except KeyError as exc:
        raise ConfigError(f"{args.config}: {exc.args[0]}") from None
    if args.zones:
        camera = camera.model_copy(update={"zones": _zones_file(args.zones)})
    from gridpatrol.progress import Progress

    out = open(args.events_out, "w", encoding="utf-8") if args.events_out else None  # noqa: SIM115
    progress = Progress(None, "s", f"replay {camera.id}")  # media seconds; the total once known
    try:
        if args.mot:
            size = args.size or camera.frame_size
            if size is None:
                raise ConfigError(
                    f"{args.config}: cameras[{camera.id}].frame_size is not set and --size was not given: "
                    "MOT detections do not say how large the frame is"
                )
            progress.bar.total = _mot_seconds(args.mot, args.fps)
            events = replay_mot(config, camera, args.mot, args.fps, args.start, size, on_time=progress.to)
        else:
            from edge.caption import Captioner
            from edge.detector import YoloDetector
            from edge.evidence import EvidenceStore

            detector = YoloDetector.from_config(config.model)
            store = (EvidenceStore(args.evidence_dir, config.evidence.jpeg_quality,
                                   captioner=Captioner(config.locale, config.timezone, config.evidence.caption_font))
                     if args.evidence_dir else None)
            progress.bar.total = _video_seconds(args.video)
            events = replay_video(config, camera, args.video, args.start, detector, store, on_time=progress.to)
        for event in events:
            line = event.model_dump_json()
            print(line, flush=True)
            if out:
                out.write(line + "\n")
    finally:
        progress.bar.close()
        if out:
            out.close()
    return 0


def _mot_seconds(path: Path, fps: float) -> float | None:
    """How long a MOT file's frames last (its last frame number / fps)."""
    try:
        with open(path, encoding="utf-8") as lines:
            last = max((int(float(line.split(",", 1)[0])) for line in lines if line.strip()), default=0)
    except (OSError, ValueError):
        return None  # the replay names the problem
    return last / fps if last else None


def _video_seconds(path: Path) -> float | None:
    import av

    try:
        with av.open(str(path)) as container:
            return container.duration / 1e6 if container.duration else None
    except (av.error.FFmpegError, OSError):
        return None  # the replay names the problem


def cmd_dispatcher_serve(args: argparse.Namespace) -> int:
    from dispatcher.app import serve
    from dispatcher.config import DispatcherConfig, load_dispatcher_config

    config = load_dispatcher_config(args.config) if args.config else DispatcherConfig()
    if args.host:
        config.http.host = args.host
    if args.port is not None:
        config.http.port = args.port
    serve(config, log_level=args.log_level.lower())
    return 0


def _auth(args: argparse.Namespace):  # -> dispatcher.auth.AuthService
    from dispatcher.auth import AuthService, LoginLimiter
    from dispatcher.config import DispatcherConfig, load_dispatcher_config
    from dispatcher.db import make_engine, make_sessions
    from dispatcher.grid import load_grid
    from dispatcher.gridstore import GridStore

    config = load_dispatcher_config(args.config) if args.config else DispatcherConfig()
    sessions = make_sessions(make_engine(config.database_url))
    try:  # the grid in force (people added through the admin API count), else the file's
        _, grid = GridStore(sessions).latest()
    except LookupError:
        grid = load_grid(config.grid_file)
    return AuthService(sessions, grid, timedelta(hours=config.auth.session_ttl_h),
                       LoginLimiter(sessions, config.auth.login_window_s, config.auth.login_max_failures,
                                    config.auth.login_address_max_failures))


def cmd_dispatcher_token(args: argparse.Namespace) -> int:
    auth = _auth(args)
    if args.revoke is not None:
        if not auth.revoke(args.revoke):
            raise ValueError(f"no live token {args.revoke}")
        print(f"revoked token {args.revoke}")
        return 0
    if not args.name or not args.role:
        raise ValueError("give --name and --role to make a token (or --revoke ID)")
    issued = auth.issue_machine(args.name, args.role, timedelta(days=args.ttl_days) if args.ttl_days else None)
    print(f"token {issued.token_id} for {args.name} ({args.role}); shown once, keep it secret:", file=sys.stderr)
    print(issued.token)
    return 0


def cmd_dispatcher_password(args: argparse.Namespace) -> int:
    import getpass
    import os

    from dispatcher.auth import AuthError

    password = os.environ.get("GRIDPATROL_PASSWORD") or (
        getpass.getpass(f"password for {args.person}: ") if sys.stdin.isatty() else sys.stdin.readline().strip())
    try:
        _auth(args).set_password(args.person, password)
    except AuthError as exc:
        raise ValueError(str(exc)) from None
    print(f"password set for {args.person}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from edge.config import load_edge_config
    from edge.probe import StreamProfile, probe_stream
    from gridpatrol.plan import PlannedCamera, load_capacity, plan, town_cameras, write_assignment

    capacity = load_capacity(args.capacity)
    assumed = StreamProfile(args.size[0], args.size[1], args.fps, args.gop_s or None)
    if args.config:
        cameras = town_cameras(load_edge_config(args.config), assumed, probe_stream if args.probe else None)
    elif args.cameras:
        cameras = [PlannedCamera(f"cam-{n:04d}", assumed, args.sample_fps, live_streams=args.live_streams,
                                 foreground=args.shop_fronts) for n in range(1, args.cameras + 1)]
    else:
        raise ConfigError("plan: give --config (a town's edge config) or --cameras N")
    try:
        boxes = plan(cameras, capacity, args.headroom, args.prefix)
    except ValueError as exc:
        raise ConfigError(f"plan: {exc}") from None
    print(f"box capacity: {capacity.host}, {capacity.cores} cores, {capacity.model}: "
          f"{capacity.inference_per_s:.0f} inferences/s, {capacity.decode_mpix_per_s:.0f} Mpixel/s decoded, "
          f"{1000 * capacity.per_sample_s:.0f} ms per analysed megapixel beyond inference, "
          + (f"{1000 * capacity.live_stream_cores:.1f} ms of CPU per second per live stream read; "
             if capacity.live_stream_cores else "live stream reading not measured (bench/stream_read.py); ")
          + f"filled to {args.headroom:.0%}")
    shop_fronts = sum(camera.foreground for camera in cameras)
    if shop_fronts and capacity.foreground_cpu_ms is None:
        print(f"warning: {shop_fronts} cameras watch shop fronts (zones counting stationary_object), whose "
              "background model costs each sample more CPU (3 ms on the project's 2-core box), and this "
              "capacity file has no measure of it: the boxes are planned too full (run "
              "bench/edge_capacity.py --foreground --save-capacity on the same file)", file=sys.stderr)
    elif shop_fronts:
        print(f"{shop_fronts} cameras watch shop fronts: {capacity.foreground_cpu_ms:.0f} ms of CPU a sample "
              "more each (the background model)")
    print(f"{'box':10} {'cameras':>7} {'load':>5} {'samples/s':>9} {'uplink Mbit/s':>13}  first .. last camera")
    for box in boxes:
        uplink = f"{box.bitrate_mbps:13.1f}" if box.bitrate_mbps else f"{'unknown':>13}"
        print(f"{box.id:10} {len(box.cameras):7d} {box.load:5.0%} {box.inference_per_s:9.1f} {uplink}  "
              f"{box.cameras[0].id} .. {box.cameras[-1].id}")
    print(f"{len(cameras)} cameras on {len(boxes)} boxes")
    if args.write:
        if not args.config:
            raise ConfigError("plan: --write needs --config")
        write_assignment(args.config, boxes, args.write)
        print(f"wrote {args.write}: run each box with `gridpatrol edge run --config {args.write.name} "
              "--edge-id BOX`")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from gridpatrol.demo import run_demo

    return run_demo(args.workdir, speed=args.speed, serve_after_s=args.serve_after, port=args.port, locale=args.lang)


def cmd_doctor(args: argparse.Namespace) -> int:
    from gridpatrol.doctor import report
    from i18n import translator

    return report(args.config, translator(args.lang), kind=args.kind)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridpatrol", description="Camera-assisted grid patrol.")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="default INFO; WARNING for the demo, whose lines are for people")
    top = parser.add_subparsers(dest="command", required=True)

    edge = top.add_parser("edge", help="the edge worker").add_subparsers(dest="edge_command", required=True)
    run = edge.add_parser("run", help="analyse the configured cameras and publish events over MQTT")
    run.add_argument("--config", required=True, type=Path, help="edge config YAML")
    run.add_argument("--edge-id", default=os.environ.get("GRIDPATROL_EDGE_ID"),
                     help="this box's id: in a town config, run the cameras assigned to it "
                     "(default: $GRIDPATROL_EDGE_ID, else the config's edge_id)")
    run.add_argument("--speed", type=float, default=1.0,
                     help="play file sources at this multiple of real time (0: as fast as possible)")
    run.set_defaults(func=cmd_edge_run)

    replay = edge.add_parser("replay", help="run tracker and rules on a video or MOT detections, in media time")
    replay.add_argument("--config", required=True, type=Path)
    replay.add_argument("--camera", required=True, help="camera id in the config whose zones apply")
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", type=Path, help="a video file (detected with the config's model)")
    source.add_argument("--mot", type=Path, help="MOTChallenge detections: frame,-1,x,y,w,h,conf,class,...")
    replay.add_argument("--fps", type=float, default=10.0, help="frame rate of the --mot frames")
    replay.add_argument("--size", type=_size, help="frame WIDTHxHEIGHT for --mot (else camera frame_size)")
    replay.add_argument("--start", type=_start_time, default=datetime(1970, 1, 1, tzinfo=UTC),
                        help="timestamp of media time 0 (default 1970-01-01T00:00:00Z)")
    replay.add_argument("--events-out", type=Path, help="also write the events (JSON lines) here")
    replay.add_argument("--evidence-dir", type=Path, help="write snapshots here (--video only)")
    replay.add_argument("--zones", type=Path, help="try these zones (a YAML list, as under a camera) instead of "
                        "the camera's own, without editing the config")
    replay.set_defaults(func=cmd_edge_replay)

    disp = top.add_parser("dispatcher", help="the dispatcher").add_subparsers(dest="dispatcher_command", required=True)
    serve = disp.add_parser("serve", help="ingest events, open and route cases, serve the API and pages")
    serve.add_argument("--config", type=Path, help="dispatcher config YAML (built-in defaults otherwise)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_dispatcher_serve)
    token = disp.add_parser("token", help="make (or revoke) a machine API token: edge, monitor, admin")
    token.add_argument("--config", type=Path, help="dispatcher config YAML (built-in defaults otherwise)")
    token.add_argument("--name", help="what the token is for, e.g. edge-east-01")
    token.add_argument("--role", choices=["edge", "monitor", "admin"])
    token.add_argument("--ttl-days", type=float, help="expire after this many days (default: never)")
    token.add_argument("--revoke", type=int, metavar="ID", help="revoke the token with this id instead")
    token.set_defaults(func=cmd_dispatcher_token)
    password = disp.add_parser("set-password", help="set a person's login password (from GRIDPATROL_PASSWORD, "
                               "the terminal, or one line of stdin)")
    password.add_argument("--config", type=Path, help="dispatcher config YAML (built-in defaults otherwise)")
    password.add_argument("person", help="a person id of the grid file")
    password.set_defaults(func=cmd_dispatcher_password)

    plan = top.add_parser("plan", help="propose which edge box runs which camera, from a box's measured capacity")
    plan.add_argument("--capacity", required=True, type=Path,
                      help="a box's capacity JSON (bench/edge_capacity.py --save-capacity)")
    plan.add_argument("--config", type=Path, help="a town's edge config: plan its enabled cameras")
    plan.add_argument("--probe", action="store_true",
                      help="read each camera's picture size, frame rate and keyframe interval off its stream")
    plan.add_argument("--cameras", type=int, help="without --config: plan this many cameras alike")
    plan.add_argument("--size", type=_size, default=(1920, 1080), help="assumed WIDTHxHEIGHT (default 1920x1080)")
    plan.add_argument("--fps", type=float, default=25.0, help="assumed stream frame rate")
    plan.add_argument("--gop-s", type=float, default=2.0, help="assumed keyframe interval, seconds (0: unknown)")
    plan.add_argument("--sample-fps", type=float, default=0.5, help="with --cameras: samples per camera per second")
    plan.add_argument("--live-streams", type=int, choices=(0, 1, 2), default=1,
                      help="with --cameras: streams each camera sends over the network (2: main and substream)")
    plan.add_argument("--shop-fronts", action="store_true",
                      help="with --cameras: each watches a shop front (a zone counting stationary_object)")
    plan.add_argument("--headroom", type=float, default=0.8, help="fill each box to this share of its capacity")
    plan.add_argument("--prefix", default="box-", help="box ids: PREFIX01, PREFIX02, ...")
    plan.add_argument("--write", type=Path, help="write the --config with each camera's `edge` set to this file")
    plan.set_defaults(func=cmd_plan)

    demo = top.add_parser("demo", help="broker + dispatcher + edge on a sample clip, on this machine")
    demo.add_argument("--speed", type=float, default=1.0, help="clip speed (0: as fast as possible)")
    demo.add_argument("--workdir", type=Path, help="keep the demo's database and evidence here")
    demo.add_argument("--port", type=int, default=0, help="dispatcher HTTP port (default: a free one)")
    demo.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN",
                      help="the language of what the demo prints, the pages' default and the captions")
    demo.add_argument("--serve-after", type=float, default=0.0, metavar="SECONDS",
                      help="keep the dispatcher up this long after the clip, to look at the pages")
    demo.set_defaults(func=cmd_demo)

    doctor = top.add_parser("doctor", help="check an edge box (config, model, cameras, broker, dispatcher, "
                            "disk, clock) or a dispatcher (config, database, grid, broker, channels, disk, links, "
                            "clock), and say what to do about each failure")
    doctor.add_argument("--config", required=True, type=Path, help="an edge box's or a dispatcher's config YAML")
    doctor.add_argument("--kind", choices=["auto", "edge", "dispatcher"], default="auto",
                        help="which config it is (default: told by its keys)")
    doctor.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN", help="the language of the report")
    doctor.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.log_level = args.log_level or ("WARNING" if args.command in ("demo", "doctor") else "INFO")
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"gridpatrol: config error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, RuntimeError, ValueError, OSError) as exc:
        print(f"gridpatrol: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
