"""How many cameras one edge box handles at a target sample rate, against references.

    python bench/edge_capacity.py [--model yolo11n-coco-int8-320] [--clip street-traffic-960x540.mp4]
                                  [--sample-fps 2] [--cameras 1,2,4,8,12] [--seconds 20] [--gop 2]
                                  [--batch 1] [--ultralytics-python PATH]

N synthetic cameras each play a shared clip in a loop at its own frame rate (files read as
cameras, paced in real time), re-encoded first with a camera's usual keyframe interval.
Each design runs N at a time in its own process:

- ``limit``: the pipeline's own physical limit, cores ÷ one camera's CPU for decoding what
  the pipeline decodes and for inference at the sample rate, the two run at once by a bare
  box (``bare_box``) and, printed beside it, each measured alone;
- ``ceiling``: raw ONNX Runtime on the same model and batch, one preprocessed frame (or a
  batch of them) in a loop, the better of one call at a time on all cores and one
  single-threaded call per core: analysed frames/s, and cameras that rate would serve;
- ``naive``: what most projects ship: per camera a thread with OpenCV reading every frame and
  one single-image inference per sampled frame;
- ``ultralytics``: the same with Ultralytics' ``predict`` per sampled frame and a model object
  per camera, run by ``--ultralytics-python`` (an interpreter with Ultralytics installed; it
  needs PyTorch and torchvision, which the edge never installs);
- ``pipeline``: GridPatrol's edge path (PyAV decode, pixels only for sampled frames, only
  keyframes when the sample interval allows, the inference threads batching up to ``--batch``
  frames of all cameras, the analyzer with tracker, rules and evidence). With ``--batch`` > 1
  the model is first rewritten to take any batch (models/rebatch.py), and the ceiling is
  measured at that batch.

A camera is *handled* when it got at least 85 % of its sample rate (a measured window holds a
whole number of samples) and the p99 lag from a frame's time to its decision is under one
second. Prints per design and N: analysed frames/s, the slowest camera's rate, mean and p99
lag, CPU (cores busy) and peak memory, then the most cameras each design handled and the
ratios the edge issue asks for: the pipeline's analysed frames/s at the most cameras it
handled against the ceiling's (a run that falls behind works off its backlog of file frames
faster than real time, so its frames/s are no sustained rate), and its cameras against the
naive design's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import Window, cpu_s, handled, held_note, peak_mb, start_staggered, summarise, thread_cpu  # noqa: E402

from gridpatrol.data import data_dir  # noqa: E402

WARMUP_S = 15.0  # after the last camera started (each first decodes a GOP in full); the steady state counts
# The zone's dwell: longer than a run, so that the measured window is the steady analysis of
# every camera. The clip's parked cars would otherwise open a violation on all N copies of it
# within the same second (they play one clip, a second apart), N decisions' evidence at once
# (two 1080p keyframes decoded, snapshot, crops, before image), a burst no town's cameras
# make. Decisions' evidence is therefore not in these figures.
DWELL_S = 300


def make_detector(model: Path, spin: bool = True, threads: int = 0):
    """ONNX Runtime as it comes (its threads spin between runs), or as the edge sets it."""
    from edge.detector import YoloDetector

    return YoloDetector(model, spin=spin, threads=threads)


def first_frame(clip: Path):
    """The clip's first frame (BGR): the model input the inference measurements run on."""
    import av

    with av.open(str(clip)) as container:
        return next(container.decode(video=0)).to_ndarray(format="bgr24")


def edge_scheduler(model: Path, batch: int = 1, workers: int = 0):
    """The box's inference threads, started, as an edge box with this model's config runs
    them (threads per call and calls side by side from ``ModelConfig.inference_plan``, ONNX
    Runtime's threads not spinning); ``workers`` calls side by side instead, if given."""
    from edge.batching import BatchScheduler
    from edge.config import ModelConfig

    threads, planned = ModelConfig(path=model).inference_plan()
    return BatchScheduler(make_detector(model, spin=False, threads=threads), max_batch=batch,
                          workers=workers or planned).start()


def raw_rate(model: Path, tensor, seconds: float, threads: int, workers: int) -> tuple[float, float]:
    """Inferences/s and cores of ``workers`` loops of session.run on ``threads`` threads each."""
    detector = make_detector(model, threads=threads)
    for _ in range(5):
        detector.session.run(None, {detector.input_name: tensor})
    counts = [0] * workers
    start, cpu0 = time.monotonic(), cpu_s()

    def loop(k: int) -> None:
        while time.monotonic() - start < seconds:
            detector.session.run(None, {detector.input_name: tensor})
            counts[k] += len(tensor)

    loops = [threading.Thread(target=loop, args=(k,)) for k in range(workers)]
    for thread in loops:
        thread.start()
    for thread in loops:
        thread.join()
    elapsed = time.monotonic() - start
    return sum(counts) / elapsed, (cpu_s() - cpu0) / elapsed


def run_ceiling(model: Path, clip: Path, seconds: float, batch: int = 1) -> dict:
    """The best raw ONNX Runtime rate of the model at ``batch``: one call at a time on all
    cores (its default), or one single-threaded call per core side by side."""
    import numpy as np

    frame = first_frame(clip)
    tensor, _ = make_detector(model).preprocess(frame)
    tensor = np.repeat(tensor, batch, axis=0)
    cores = os.cpu_count() or 1
    ways = {"one call on all cores": raw_rate(model, tensor, seconds / 2, 0, 1),
            f"{cores} single-threaded calls": raw_rate(model, tensor, seconds / 2, 1, cores)}
    way = max(ways, key=lambda k: ways[k][0])
    return {"fps": ways[way][0], "cpu": ways[way][1], "way": way, "peak_mb": peak_mb(),
            "others": {k: v[0] for k, v in ways.items() if k != way},
            "decode_mpix_per_s": decode_rate(clip, min(seconds, 10.0))}


def decode_cpu(clip: Path, gate_mode: str, sample_fps: float, seconds: float, threads: int = 0) -> float:
    """CPU seconds per second of ``clip``'s media time to decode what a camera's source decodes
    of it: as the camera thread reads it, through its gate (keyframes only where the sample
    interval allows, the rest of a GOP once the next sample is due no earlier than its next
    keyframe), with its decoder's threads."""
    from edge.sampler import Sampler
    from edge.source import CameraSource, KeyframeGate

    source = CameraSource(str(clip), loop=True, gate=lambda: KeyframeGate(gate_mode, 1.0 / sample_fps),
                          threads=threads)
    sampler = Sampler(sample_fps)
    cpu0, start, played = cpu_s(), time.monotonic(), 0.0
    for raw in source.frames():  # played again and again, as a camera that never ends
        played = raw.time_s
        if sampler.due(raw.time_s, raw.key):
            source.sampled(sampler.wait_s(raw.time_s))
        if time.monotonic() - start >= seconds:
            break
    return (cpu_s() - cpu0) / max(played, 1e-6)


def bare_box(model: Path, stream: Path, sample_fps: float, seconds: float, cameras: int) -> dict:
    """A box doing only what the limit counts, both at once: ``cameras`` threads each decode
    ``stream`` as a camera thread does (its gate, sampler and decoder threads) as fast as they
    can, and send each sample's model input (one prepared tensor) to the box's inference
    threads, waiting for the output. Decoding and inference share the cores and their caches
    as on the box; nothing else of the pipeline runs. CPU per sample, measured after a warm-up."""
    from edge.batching import SchedulerStopped
    from edge.sampler import Sampler
    from edge.source import CameraSource, KeyframeGate, decode_threads

    scheduler = edge_scheduler(model)
    tensor, _ = scheduler.detector.preprocess(first_frame(stream))
    stop = threading.Event()
    counts = [0] * cameras

    def camera(k: int) -> None:
        source = CameraSource(str(stream), loop=True, stop=stop.is_set, threads=decode_threads(cameras),
                              gate=lambda: KeyframeGate("auto", 1.0 / sample_fps))
        sampler = Sampler(sample_fps)
        for raw in source.frames():
            if stop.is_set():
                return
            if sampler.due(raw.time_s, raw.key):
                try:
                    scheduler.infer(tensor)
                except SchedulerStopped:
                    return  # the measurement is over
                counts[k] += 1
                source.sampled(sampler.wait_s(raw.time_s))

    # named as the pipeline's threads, so that their CPU is told apart the same way
    loops = [threading.Thread(target=camera, args=(k,), name=f"camera-{k}", daemon=True) for k in range(cameras)]
    for thread in loops:
        thread.start()
    time.sleep(WARMUP_S / 3)  # every stream opened and its first GOP decoded
    done0, cpu0, start, threads0 = sum(counts), cpu_s(), time.monotonic(), thread_cpu()
    time.sleep(seconds)
    samples, cpu, elapsed = sum(counts) - done0, cpu_s() - cpu0, time.monotonic() - start
    threads1 = thread_cpu()
    stop.set()
    scheduler.stop()
    by_thread = {kind: 1000 * (threads1[kind] - threads0.get(kind, 0.0)) / max(samples, 1) for kind in threads1}
    return {"cpu_per_sample": cpu / max(samples, 1), "cores_busy": cpu / elapsed, "thread_ms_per_sample": by_thread}


def run_limit(model: Path, clip: Path, sub: Path | None, sample_fps: float, seconds: float, cameras: int) -> dict:
    """The pipeline's own physical limit: cores ÷ the CPU one camera needs each second for
    decoding what the pipeline decodes (the substream, or the one stream, as its gate lets
    through) and for inference at ``sample_fps``, as the edge runs it with ``cameras``
    cameras. Of a main stream the pipeline decodes a keyframe only for a decision's evidence
    (its recent past keeps keyframes compressed); with the benchmark's zone (``DWELL_S``)
    nothing is decided during a run, so none.

    Measured two ways: the two jobs together on all cores (:func:`bare_box`: they slow each
    other down through the shared caches, as on the box; this is the limit), and each alone
    (inference in a loop on an otherwise idle box, then decoding alone), the more
    optimistic sum, printed beside it."""

    from edge.config import ModelConfig
    from edge.source import decode_threads

    stream = sub or clip
    frame = first_frame(stream)
    tensor, _ = make_detector(model).preprocess(frame)
    threads, workers = ModelConfig(path=model).inference_plan()
    rate, cores_busy = raw_rate(model, tensor, seconds / 2, threads, workers)
    inference_cpu = cores_busy / rate
    decode = decode_cpu(stream, "auto", sample_fps, seconds / 2, decode_threads(cameras))
    alone = decode + sample_fps * inference_cpu
    together = bare_box(model, stream, sample_fps, seconds, cameras)
    per_camera = sample_fps * together["cpu_per_sample"]
    cores = os.cpu_count() or 1
    return {"inference_cpu_ms": 1000 * inference_cpu, "decode_cpu_per_s": decode, "alone_per_camera_cpu": alone,
            "alone_cameras": cores / alone, "together_cpu_ms": 1000 * together["cpu_per_sample"],
            "together_cores_busy": together["cores_busy"], "per_camera_cpu": per_camera,
            "together_thread_ms": together["thread_ms_per_sample"],
            "cameras": cores / per_camera}


def decode_rate(clip: Path, seconds: float) -> float:
    """Megapixels/s PyAV decodes of ``clip`` (every frame, threads as the edge's sources use)."""
    import av

    pixels, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                pixels += frame.width * frame.height
                if time.monotonic() - start >= seconds:
                    break
    return pixels / 1e6 / (time.monotonic() - start)


def naive_camera(clip: Path, detect, sample_fps: float, stop: threading.Event, window: Window) -> None:
    import cv2

    started, offset = time.monotonic(), 0.0
    while not stop.is_set():
        capture = cv2.VideoCapture(str(clip))
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        index, next_due, t = 0, offset, offset
        while not stop.is_set():
            ok, frame = capture.read()  # decodes and converts every frame
            if not ok:
                break
            t = offset + index / fps
            index += 1
            wait = started + t - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if t + 1e-6 >= next_due:
                next_due = t + 1.0 / sample_fps
                detect(frame)
                window.record(time.monotonic(), started + t)
        capture.release()
        offset = t + 1.0 / fps


def run_cameras(clip: Path, detectors: list, sample_fps: float, seconds: float) -> list[Window]:
    """One naive camera thread per detect function."""
    stop = threading.Event()
    opens = time.monotonic() + 1.0 / sample_fps + WARMUP_S
    windows = [Window(opens) for _ in detectors]
    threads = [threading.Thread(target=naive_camera, args=(clip, detect, sample_fps, stop, w), daemon=True)
               for detect, w in zip(detectors, windows, strict=True)]
    start_staggered(threads, sample_fps)
    time.sleep(WARMUP_S + seconds)
    stop.set()
    for thread in threads:
        thread.join(10)  # a thread still inside OpenCV at exit aborts the process
    return windows


def run_naive(model: Path, clip: Path, cameras: int, sample_fps: float, seconds: float, batch: int = 1
              ) -> list[Window]:
    detector = make_detector(model)
    return run_cameras(clip, [detector.detect] * cameras, sample_fps, seconds)


def run_ultralytics(model: Path, clip: Path, cameras: int, sample_fps: float, seconds: float, batch: int = 1
                    ) -> list[Window]:
    """Ultralytics' own predict on the same ONNX model, one model object per camera (its
    predictors keep per-call state and are not shared between threads)."""
    import numpy as np
    from ultralytics import YOLO

    models = [YOLO(str(model), task="detect") for _ in range(cameras)]
    size = int(model.stem.rsplit("-", 1)[-1]) if model.stem.rsplit("-", 1)[-1].isdigit() else 640
    for m in models:  # the first predict builds the predictor; not part of the measurement
        m.predict(np.zeros((size, size, 3), np.uint8), imgsz=size, verbose=False)

    def detect_with(m):
        return lambda frame: m.predict(frame, imgsz=size, verbose=False)

    return run_cameras(clip, [detect_with(m) for m in models], sample_fps, seconds)


def run_pipeline(model: Path, clip: Path, cameras: int, sample_fps: float, seconds: float, batch: int = 1,
                 sub: Path | None = None, workers: int = 0,
                 foreground: bool = False) -> tuple[list[Window], dict[str, float]]:
    """The cameras' windows, and the CPU per analysed sample (ms) of each kind of thread in
    the measured window: where the time beyond the limit's decoding and inference goes.
    ``foreground``: the zone also counts new stationary things (a shop front's strip, for
    cross-door trading): the background model runs on every sample."""
    from edge.config import EdgeConfig
    from edge.evidence import EvidenceStore
    from edge.runner import CameraWorker
    from edge.source import decode_threads

    scheduler = edge_scheduler(model, batch, workers)
    work = Path(tempfile.mkdtemp(prefix="edge-capacity-"))
    zone = {"id": "z1", "kind": "parked_bike", "polygon": [[0, 0.3], [1, 0.3], [1, 1], [0, 1]],
            "classes": ["car", "bicycle", "motorcycle", *(["stationary_object"] if foreground else [])],
            "dwell_s": DWELL_S, "micro_grid": "mg-017"}
    config = EdgeConfig.model_validate({
        "edge_id": "bench", "model": {"path": str(model)}, "mqtt": {"url": "mqtt://127.0.0.1:1"},
        "evidence": {"dir": str(work / "evidence")}, "outbox": {"path": str(work / "outbox.sqlite")},
        "cameras": [{"id": f"cam-{i:03d}", "url": str(clip), "sample_fps": sample_fps, "loop": True,
                     "detect_url": str(sub) if sub else None, "zones": [zone]} for i in range(cameras)],
    })
    evidence = EvidenceStore(work / "evidence")
    stop = threading.Event()
    opens = time.monotonic() + 1.0 / sample_fps + WARMUP_S
    windows = [Window(opens) for _ in range(cameras)]

    class Timed(CameraWorker):
        window: Window

        def process(self, t: float, image) -> None:
            analysed = self.frames_analysed
            super().process(t, image)
            if self.frames_analysed > analysed:  # a frame the scene guard held back saw no model
                self.window.record(time.monotonic(), self.started + t / self.speed)
            else:
                self.window.hold(time.monotonic())

    workers = []
    for camera, window in zip(config.cameras, windows, strict=True):
        worker = Timed(config, camera, scheduler, evidence, lambda event, path: None, stop, 1.0,
                       decode_threads=decode_threads(cameras))
        worker.window = window
        workers.append(worker)
    start_staggered(workers, sample_fps)
    time.sleep(max(0.0, opens - time.monotonic()))
    cpu0 = thread_cpu()
    time.sleep(seconds)
    cpu1, samples = thread_cpu(), sum(w.count for w in windows)
    stop.set()
    for worker in workers:
        worker.join(5)
    scheduler.stop()
    per_sample = {kind: 1000 * (cpu1[kind] - cpu0.get(kind, 0.0)) / max(samples, 1) for kind in cpu1}
    return windows, per_sample


def merged(rows: list[dict], sample_fps: float) -> dict:
    """One row for a box whose cameras ran in several processes, from each process's row. The
    p99 lag is the highest of theirs (each holds its share of the samples: at most a little
    pessimistic); CPU and memory add up."""
    if any("crashed" in row for row in rows):
        return next(row for row in rows if "crashed" in row)
    fps = sum(row["fps"] for row in rows)
    threads: dict[str, float] = {}
    for row in rows:
        for kind, ms in row.get("thread_ms_per_sample", {}).items():
            threads[kind] = threads.get(kind, 0.0) + ms * row["fps"] / max(fps, 1e-9)
    out = {"fps": fps, "min_rate": min(row["min_rate"] for row in rows),
           "mean_lag": sum(row["mean_lag"] * row["fps"] for row in rows) / max(fps, 1e-9),
           "p99_lag": max(row["p99_lag"] for row in rows), "cpu": sum(row["cpu"] for row in rows),
           "peak_mb": sum(row["peak_mb"] for row in rows), "held": sum(row["held"] for row in rows),
           "thread_ms_per_sample": threads}
    out["handled"] = handled(out["min_rate"], out["p99_lag"], sample_fps)
    return out


def with_gop(clip: Path, gop_s: float, out_dir: Path, min_s: float = 60.0,
             size: tuple[int, int] | None = None) -> Path:
    """The clip re-encoded (H.264) with a keyframe every ``gop_s`` seconds, as IP cameras send
    their streams (a 1–2 s GOP is the usual setting), at ``size`` (a substream) or its own; the
    pixels are the clip's, played forwards and backwards until the stream is ``min_s`` long. A
    camera's stream is opened once; a 3 s clip played in a loop would instead be opened (and
    probed, which decodes frames) by every camera every 3 s, a cost no real camera has."""
    from tests.builders import encode_clip

    suffix = "" if size is None else f"-{size[0]}x{size[1]}"
    return encode_clip(clip, out_dir / f"{clip.stem}-gop{gop_s:g}s{suffix}.mp4", gop_s, size, min_s)


def one(args: argparse.Namespace) -> None:
    mode, cameras = args.one
    model, clip = Path(args.model_path), Path(args.clip_path)
    sub = Path(args.sub_path) if args.sub_path else None
    if mode == "ceiling":
        print(json.dumps(run_ceiling(model, sub or clip, args.seconds, args.batch)))
        return
    if mode == "limit":
        print(json.dumps(run_limit(model, clip, sub, args.sample_fps, args.seconds, int(cameras))))
        return
    cpu0, wall0 = cpu_s(), time.monotonic()
    per_sample: dict[str, float] = {}
    if mode == "pipeline":
        windows, per_sample = run_pipeline(model, clip, int(cameras), args.sample_fps, args.seconds, args.batch, sub,
                                           args.workers, args.foreground)
    else:  # the naive and Ultralytics loops read the main stream, as such projects do
        runner = {"naive": run_naive, "ultralytics": run_ultralytics}[mode]
        windows = runner(model, clip, int(cameras), args.sample_fps, args.seconds, args.batch)
    row = summarise(windows, args.seconds, args.sample_fps, cpu_s() - cpu0, time.monotonic() - wall0)
    print(json.dumps({**row, "thread_ms_per_sample": per_sample}))


def print_limit(limit: dict, sample_fps: float, when: str) -> None:
    cores = os.cpu_count()
    print(f"pipeline's own limit, {when}: {limit['cameras']:.1f} cameras = {cores} cores / "
          f"{limit['per_camera_cpu']:.3f} cores per camera ({sample_fps:g} samples x "
          f"{limit['together_cpu_ms']:.1f} ms decoding and inference together on all cores, "
          f"{limit['together_cores_busy']:.2f} cores busy)")
    threads = limit.get("together_thread_ms", {})
    if threads:
        print("  of which, by thread: " + ", ".join(f"{kind} {ms:.1f} ms" for kind, ms in sorted(
            threads.items(), key=lambda item: -item[1]) if ms >= 0.05))
    print(f"  each alone: {limit['alone_cameras']:.1f} cameras = {cores} cores / "
          f"{limit['alone_per_camera_cpu']:.3f} (decoding {limit['decode_cpu_per_s']:.3f}"
          f" + {sample_fps:g} inferences x {limit['inference_cpu_ms']:.1f} ms)")


def save_capacity(args: argparse.Namespace, model: Path, clip: Path, ceiling: dict,
                  pipeline_cameras: int | None, camera_ms: float | None = None) -> None:
    """The box's capacity as the planner reads it, named by ``model``'s file; ``clip`` is the
    stream the pipeline decoded and detected on (with a substream, that one: the main stream's
    keyframes cost it nothing). A run with ``--foreground`` writes only its own run into a file
    there already (``measured_foreground``: what a shop front's background model adds is read
    against that file's plain run and rates); a plain run keeps the file's foreground run and
    what bench/stream_read.py measured into it."""
    import socket

    from pydantic import ValidationError

    from edge.probe import probe_stream
    from gridpatrol.plan import BoxCapacity, MeasuredRun

    stream = probe_stream(str(clip))
    run = None if not pipeline_cameras else MeasuredRun(
        cameras=pipeline_cameras, width=stream.width, height=stream.height, fps=stream.fps, gop_s=stream.gop_s,
        sample_fps=args.sample_fps, camera_ms_per_sample=camera_ms)
    before: BoxCapacity | None = None
    if args.save_capacity.is_file():
        try:
            before = BoxCapacity.model_validate_json(args.save_capacity.read_text())
        except ValidationError:
            print(f"{args.save_capacity} held no capacity file; written afresh (run bench/stream_read.py "
                  "--save-capacity on it for live streams)", file=sys.stderr)
    if args.foreground and before is not None:
        capacity = before.model_copy(update={"measured_foreground": run})
    else:
        capacity = BoxCapacity(host=socket.gethostname(), cores=os.cpu_count() or 1, model=model.stem,
                               inference_per_s=ceiling["fps"], decode_mpix_per_s=ceiling["decode_mpix_per_s"],
                               live_stream_cores=before.live_stream_cores if before else 0.0,
                               measured=None if args.foreground else run,
                               measured_foreground=run if args.foreground else (
                                   before.measured_foreground if before else None))
    args.save_capacity.write_text(capacity.model_dump_json(indent=2) + "\n")
    foreground = ("" if capacity.foreground_cpu_ms is None else
                  f", {capacity.foreground_cpu_ms:.1f} ms of CPU a sample more for a shop front")
    print(f"capacity written to {args.save_capacity} ({1000 * capacity.per_sample_s:.0f} ms per analysed "
          f"megapixel beyond inference{foreground})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="yolo11n-coco-int8-320",
                        help="a model of GRIDPATROL_DATA/models, or the path of one (e.g. from models/quantize.py)")
    parser.add_argument("--clip", default="street-traffic-960x540.mp4", help="a clip of GRIDPATROL_DATA/media/clips")
    parser.add_argument("--sample-fps", type=float, default=2.0)
    parser.add_argument("--cameras", default="1,2,4,8,12", help="camera counts to try")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per run, after a warm-up")
    parser.add_argument("--designs", default="naive,pipeline")
    parser.add_argument("--gop", type=float, default=2.0,
                        help="re-encode the clip with a keyframe every GOP seconds, as cameras send (0: as it is)")
    parser.add_argument("--save-capacity", type=Path, metavar="JSON",
                        help="write the box's measured capacity here, for `gridpatrol plan --capacity`")
    parser.add_argument("--batch", type=int, default=1, help="frames per inference call (pipeline and ceiling)")
    parser.add_argument("--ultralytics-python", type=Path, metavar="PYTHON",
                        help="an interpreter with Ultralytics installed: adds the ultralytics design")
    parser.add_argument("--substream", metavar="WxH",
                        help="the cameras also send the clip at WxH (e.g. 640x360): the pipeline detects on it and "
                        "takes evidence from the main stream's keyframes; the naive loop reads the main stream")
    parser.add_argument("--processes", type=int, default=1,
                        help="run the pipeline's cameras in this many processes, each with its share of the cameras "
                        "and of the inference threads (one interpreter lock each; the edge runner has one process)")
    parser.add_argument("--foreground", action="store_true",
                        help="the pipeline's zone also counts new stationary things (cross-door trading): the "
                        "background model runs on every sample, beyond what the limit counts; with --save-capacity "
                        "on a file of the plain run, saved beside it as the cost of a shop front for the planner")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--sub-path", help=argparse.SUPPRESS)
    parser.add_argument("--model-path", help=argparse.SUPPRESS)
    parser.add_argument("--clip-path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args)
        return 0
    model = Path(args.model) if args.model.endswith(".onnx") else data_dir() / "models" / f"{args.model}.onnx"
    clip = data_dir() / "media" / "clips" / args.clip
    for path in (model, clip):
        if not path.is_file():
            print(f"missing {path} (GRIDPATROL_DATA points at the shared data set)", file=sys.stderr)
            return 1

    designs = args.designs.split(",")
    if args.ultralytics_python and "ultralytics" not in designs:
        designs.insert(1, "ultralytics")
    one_model = model  # naive and Ultralytics designs run the model as it is, one frame per call
    if args.batch > 1:
        sys.path.insert(0, str(ROOT / "models"))
        from rebatch import rebatch

        model = Path(tempfile.mkdtemp(prefix="edge-capacity-model-")) / f"{model.stem}-anybatch.onnx"
        rebatch(one_model, model)
    source_clip = clip
    clips_dir = Path(tempfile.mkdtemp(prefix="edge-capacity-clip-"))
    if args.gop > 0:
        clip = with_gop(clip, args.gop, clips_dir)
    sub: Path | None = None
    if args.substream:
        width, height = (int(v) for v in args.substream.lower().split("x"))
        sub = with_gop(source_clip, args.gop or 2.0, clips_dir, size=(width, height))

    def child(mode: str, cameras: int) -> dict:
        python = str(args.ultralytics_python) if mode == "ultralytics" else sys.executable
        path = model if mode in ("ceiling", "pipeline") else one_model
        parts = max(1, min(args.processes, cameras)) if mode == "pipeline" else 1
        workers = max(1, (os.cpu_count() or 1) // parts) if parts > 1 else 0
        # Each process's output goes to a file: a pipe left unread while another process is
        # waited for could fill and stall the process writing to it, in the measured window.
        rows = []
        with contextlib.ExitStack() as files:
            outputs = [tuple(files.enter_context(tempfile.TemporaryFile("w+")) for _ in "oe") for _ in range(parts)]
            running = [subprocess.Popen(
                [python, __file__, "--one", mode, str(cameras // parts + (k < cameras % parts)), "--model-path",
                 str(path), "--clip-path", str(clip), "--sample-fps", str(args.sample_fps), "--seconds",
                 str(args.seconds), "--batch", str(args.batch), "--gop", str(args.gop), "--workers", str(workers),
                 *(["--sub-path", str(sub)] if sub else []), *(["--foreground"] if args.foreground else [])],
                stdout=out, stderr=err, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
                for k, (out, err) in enumerate(outputs)]
            for process, (out, err) in zip(running, outputs, strict=True):
                process.wait()
                out.seek(0)
                err.seek(0)
                if process.returncode != 0:  # a design that crashes under load handles nothing
                    last = (err.read().strip().splitlines() or ["no message"])[-1]
                    rows.append({"crashed": f"exit {process.returncode}: {last[:120]}"})
                else:
                    rows.append(json.loads(out.read().strip().splitlines()[-1]))
        return rows[0] if parts == 1 else merged(rows, args.sample_fps)

    gop = f" re-encoded with a {args.gop:g} s GOP" if args.gop > 0 else ""
    substream = f", substream {args.substream} detected on" if sub else ""
    if args.processes > 1:
        substream += f", the pipeline's cameras in {args.processes} processes"
    if args.foreground:
        substream += ", the zone watching for new stationary things (background model)"
    print(f"model {args.model}, clip {source_clip.name}{gop}{substream}, sample {args.sample_fps} fps per camera, "
          f"{args.seconds:.0f} s measured per run, {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d}")
    most = max(int(n) for n in args.cameras.split(","))  # decoders threaded as with that many
    limits = [child("limit", most)]
    print_limit(limits[0], args.sample_fps, "before the designs")
    ceiling = child("ceiling", 1)
    ceiling_cameras = ceiling["fps"] / args.sample_fps
    others = "; ".join(f"{k}: {v:.1f}" for k, v in ceiling["others"].items())
    print(f"ceiling (raw ONNX Runtime, batch {args.batch}, {ceiling['way']}): {ceiling['fps']:.1f} inferences/s = "
          f"{ceiling_cameras:.1f} cameras at {args.sample_fps} fps; cpu {ceiling['cpu']:.2f} cores; "
          f"peak {ceiling['peak_mb']:.0f} MB ({others})")
    print(f"decode (PyAV, every frame): {ceiling['decode_mpix_per_s']:.0f} megapixels/s")
    if "ultralytics" not in designs:
        print("ultralytics predict loop: not run (--ultralytics-python names an interpreter that has it)")
    print(f"{'design':9} {'cams':>4} {'fps':>7} {'slowest':>8} {'lag ms':>7} {'p99 ms':>7} {'cpu':>5} "
          f"{'MB':>5} handled")
    best: dict[str, int] = {}
    kept: dict[str, dict] = {}  # the row of the most cameras handled
    for mode in designs:
        for cameras in (int(n) for n in args.cameras.split(",")):
            row = child(mode, cameras)
            if "crashed" in row:
                print(f"{mode:9} {cameras:4d} crashed ({row['crashed']})", flush=True)
                continue
            print(f"{mode:9} {cameras:4d} {row['fps']:7.1f} {row['min_rate']:8.2f} {1000 * row['mean_lag']:7.0f} "
                  f"{1000 * row['p99_lag']:7.0f} {row['cpu']:5.2f} {row['peak_mb']:5.0f} "
                  f"{'yes' if row['handled'] else 'no'}{held_note(row)}", flush=True)
            threads = {k: v for k, v in row.get("thread_ms_per_sample", {}).items() if v >= 0.05}
            if threads:
                print(f"{'':14} CPU per analysed sample in the measured window, by thread: "
                      + ", ".join(f"{kind} {ms:.1f} ms" for kind, ms in sorted(threads.items())), flush=True)
            # Only a row that keeps up counts: a camera that fell behind works off its backlog of
            # file frames faster than real time, which no live stream lets it do.
            if row["handled"] and cameras > best.get(mode, 0):
                best[mode], kept[mode] = cameras, row
    for mode in designs:
        print(f"{mode}: handles {best.get(mode, 0)} cameras at {args.sample_fps} fps; "
              f"{kept.get(mode, {}).get('fps', 0.0):.1f} frames/s analysed there")
    if args.save_capacity:
        save_capacity(args, one_model, sub or clip, ceiling, best.get("pipeline"),  # the stream detected on
                      kept.get("pipeline", {}).get("thread_ms_per_sample", {}).get("camera"))
    if "pipeline" in kept:
        print(f"pipeline / ceiling: {kept['pipeline']['fps'] / ceiling['fps']:.0%} of the raw-inference ceiling's "
              f"frames/s; handled cameras {best.get('pipeline', 0) / ceiling_cameras:.0%} of the ceiling's")
        for other in ("naive", "ultralytics"):
            if best.get(other) and best.get("pipeline"):
                print(f"pipeline / {other}: {best['pipeline'] / best[other]:.1f}x the {other} design's cameras")
    if best.get("pipeline"):
        # A shared machine's speed drifts over a run's minutes: the limit is measured again
        # after the designs, and the share is taken of the higher of the two.
        limits.append(child("limit", most))
        print_limit(limits[1], args.sample_fps, "after the designs")
        together = max(limit["cameras"] for limit in limits)
        alone = max(limit["alone_cameras"] for limit in limits)
        print(f"pipeline / its own limit: {best['pipeline']} of {together:.1f} cameras = "
              f"{best['pipeline'] / together:.0%} (of the limit with each job alone, {alone:.1f}: "
              f"{best['pipeline'] / alone:.0%}); the higher of the two measurements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
