"""The inference threads all cameras of a box share, batching their frames.

Each camera thread calls :meth:`BatchScheduler.detect` as it would a detector's: it
letterboxes its own frame (in parallel with the other cameras), queues the tensor and waits.
The scheduler's thread takes what is queued, up to ``max_batch`` frames, waiting at most
``max_wait_s`` for more once the first has come, runs them in one ONNX Runtime call, picks
each frame's candidates from its output while that is still in the core's cache, and hands
each camera its candidates back, to suppress in its own thread.

``workers`` such threads run calls side by side: on the CPU one call per core, each on one
intra-op thread (``ModelConfig.inference_plan``), which here ran a small detector 1.5x as
fast as one call spread over both cores; on a GPU one. A fixed number of inference threads,
instead of every camera thread running the model at once, also keeps ONNX Runtime's
threads from competing with each other for the cores. A model
exported with a fixed batch of 1 (the shared test models) runs one frame per call here;
``python models/rebatch.py`` writes a copy that takes any batch.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

import numpy as np

from edge.detections import Detections
from edge.detector import ModelError, YoloDetector
from edge.metrics import EdgeMetrics

log = logging.getLogger(__name__)


class SchedulerStopped(RuntimeError):
    """The scheduler was stopped while a frame waited for inference."""


class BatchScheduler:
    def __init__(self, detector: YoloDetector, max_batch: int = 1, max_wait_s: float = 0.01,
                 metrics: EdgeMetrics | None = None, workers: int = 1) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if detector.fixed_batch is not None and detector.fixed_batch < max_batch:
            raise ModelError(
                f"model.batch is {max_batch} but the model takes a fixed batch of {detector.fixed_batch}: "
                "export it with a dynamic batch (yolo export dynamic=True) or write a copy that takes any "
                "batch with `python models/rebatch.py MODEL OUT`"
            )
        self.detector = detector
        self.class_names = detector.class_names
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.metrics = metrics or EdgeMetrics()
        # (tensor, its caller's future, whether the caller wants the candidates or the raw output)
        self._queue: queue.Queue[tuple[np.ndarray, Future[Any], bool]] = queue.Queue()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"inference-{i}", daemon=True)
                         for i in range(max(1, workers))]
        self._count = threading.Lock()
        self.calls = 0
        self.frames = 0

    def start(self) -> BatchScheduler:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        while True:  # whoever still waits learns why instead of waiting forever
            try:
                _, future, _ = self._queue.get_nowait()
            except queue.Empty:
                return
            future.set_exception(SchedulerStopped("the inference scheduler stopped"))

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        """Detections in one frame, run in a batch with other cameras' frames; the inference
        thread picks the output's candidates (``YoloDetector.candidates``), this thread
        suppresses them."""
        tensor, box = self.detector.preprocess(frame_bgr)
        return self.detector.boxes(self._submit(tensor, True), box, frame_bgr.shape[:2])

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """The model's raw output for one preprocessed frame (``1x3xHxW``), run in a batch
        with other cameras' frames."""
        return self._submit(tensor, False)

    def _submit(self, tensor: np.ndarray, candidates: bool) -> Any:
        if self._stop.is_set() or not any(thread.is_alive() for thread in self._threads):
            raise SchedulerStopped("the inference scheduler is not running")
        future: Future[Any] = Future()
        self._queue.put((tensor, future, candidates))
        return future.result()

    def _take(self) -> list[tuple[np.ndarray, Future[Any], bool]]:
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        # this thread's input, filled again for every call instead of a new array per call
        # (np.concatenate's): 19.1-19.5 against 19.3-19.8 ms a call here, no allocation
        inputs = np.empty((0, 3, *self.detector.input_size), self.detector.input_dtype)
        while not self._stop.is_set():
            batch = self._take()
            if not batch:
                continue
            if len(inputs) < len(batch):
                inputs = np.empty((len(batch), 3, *self.detector.input_size), self.detector.input_dtype)
            for k, (tensor, _, _) in enumerate(batch):
                inputs[k] = tensor[0]
            tensors = inputs[:len(batch)]
            try:
                with self.metrics.inference.time():
                    raw = self.detector.infer(tensors)
            except Exception as exc:  # ONNX Runtime's own types; each waiting camera gets it
                log.error("inference of %d frames failed: %s", len(batch), exc)
                for _, future, _ in batch:
                    future.set_exception(exc)
                continue
            self.metrics.batch_size.observe(len(batch))
            with self._count:
                self.calls += 1
                self.frames += len(batch)
            for i, (_, future, candidates) in enumerate(batch):
                try:
                    future.set_result(self.detector.candidates(raw[i]) if candidates else raw[i])
                except Exception as exc:  # an output the model's format does not fit: that camera learns it
                    future.set_exception(exc)
