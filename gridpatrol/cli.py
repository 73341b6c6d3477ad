"""The ``gridpatrol`` command: ``edge run``, ``edge replay``, ``dispatcher serve|token|set-password``,
``demo``."""

from __future__ import annotations

import argparse
import logging
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

    runner = EdgeRunner(load_edge_config(args.config), speed=args.speed)
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


def cmd_edge_replay(args: argparse.Namespace) -> int:
    from edge.config import load_edge_config
    from edge.replay import replay_mot, replay_video

    config = load_edge_config(args.config)
    try:
        camera = config.camera(args.camera)
    except KeyError as exc:
        raise ConfigError(f"{args.config}: {exc.args[0]}") from None
    out = open(args.events_out, "w", encoding="utf-8") if args.events_out else None  # noqa: SIM115
    try:
        if args.mot:
            size = args.size or camera.frame_size
            if size is None:
                raise ConfigError(
                    f"{args.config}: cameras[{camera.id}].frame_size is not set and --size was not given: "
                    "MOT detections do not say how large the frame is"
                )
            events = replay_mot(config, camera, args.mot, args.fps, args.start, size)
        else:
            from edge.detector import YoloDetector
            from edge.evidence import EvidenceStore

            detector = YoloDetector.from_config(config.model)
            store = EvidenceStore(args.evidence_dir, config.evidence.jpeg_quality) if args.evidence_dir else None
            events = replay_video(config, camera, args.video, args.start, detector, store)
        for event in events:
            line = event.model_dump_json()
            print(line, flush=True)
            if out:
                out.write(line + "\n")
    finally:
        if out:
            out.close()
    return 0


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
                       LoginLimiter(config.auth.login_max_failures, config.auth.login_window_s))


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


def cmd_demo(args: argparse.Namespace) -> int:
    from gridpatrol.demo import run_demo

    return run_demo(args.workdir, speed=args.speed, serve_after_s=args.serve_after, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridpatrol", description="Camera-assisted grid patrol.")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    top = parser.add_subparsers(dest="command", required=True)

    edge = top.add_parser("edge", help="the edge worker").add_subparsers(dest="edge_command", required=True)
    run = edge.add_parser("run", help="analyse the configured cameras and publish events over MQTT")
    run.add_argument("--config", required=True, type=Path, help="edge config YAML")
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

    demo = top.add_parser("demo", help="broker + dispatcher + edge on a sample clip, on this machine")
    demo.add_argument("--speed", type=float, default=1.0, help="clip speed (0: as fast as possible)")
    demo.add_argument("--workdir", type=Path, help="keep the demo's database and evidence here")
    demo.add_argument("--port", type=int, default=0, help="dispatcher HTTP port (default: a free one)")
    demo.add_argument("--serve-after", type=float, default=0.0, metavar="SECONDS",
                      help="keep the dispatcher up this long after the clip, to look at the pages")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
